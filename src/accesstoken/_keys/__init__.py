"""Key sources: where a verifier gets the keys it checks signatures with."""
