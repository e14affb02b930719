"""pytest plugin of accesstoken, loaded through the `pytest11` entry point.

It offers two fixtures, `token_issuer` and `token_issuer_factory`, and the marker
`token_issuer` that configures the first; nothing else changes in a test run.

```python
@pytest.mark.token_issuer(audience="orders-api", algorithm="ES256")
def test_orders(token_issuer: LocalIssuer) -> None: ...
```
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ._issuer import LocalIssuer

__all__ = ["token_issuer", "token_issuer_factory"]


def pytest_configure(config: pytest.Config) -> None:
    # Registered, so that --strict-markers accepts it.
    config.addinivalue_line(
        "markers",
        "token_issuer(algorithm='RS256', issuer='https://issuer.test/', audience='api'): "
        "the options of the token_issuer fixture's LocalIssuer (accesstoken)",
    )


@pytest.fixture
def token_issuer_factory() -> Callable[..., LocalIssuer]:
    """Return a function that makes a fresh `LocalIssuer` from `LocalIssuer`'s options.

    For tests that need several issuers (a trusted one and a stranger), and the one place
    to set a suite's defaults: override this fixture in a `conftest.py`, and `token_issuer`
    follows.
    """
    return LocalIssuer


@pytest.fixture
def token_issuer(
    request: pytest.FixtureRequest, token_issuer_factory: Callable[..., LocalIssuer]
) -> LocalIssuer:
    """Return a fresh `LocalIssuer` (RS256, issuer "https://issuer.test/", audience "api").

    `@pytest.mark.token_issuer(...)` on the test, its class or its module (`pytestmark`)
    passes its keywords to `token_issuer_factory`, whose defaults they override. Markers
    at several levels add up; where two name the same option, the one closest to the test
    wins. Each test gets its own key, so no token leaks from one test into another.

    Raises:
        TypeError: a marker with positional arguments (levels could not be combined).
    """
    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("token_issuer"))):
        if marker.args:
            raise TypeError("@pytest.mark.token_issuer takes keywords only: algorithm=...")
        options.update(marker.kwargs)
    return token_issuer_factory(**options)
