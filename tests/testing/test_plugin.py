"""The pytest plugin, loaded through its entry point in a separate pytest run."""

from __future__ import annotations

import pytest


def test_token_issuer_gives_each_test_a_fresh_rs256_issuer(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from accesstoken.testing import LocalIssuer

        kids = []

        def test_issues_verifiable_tokens(token_issuer):
            assert isinstance(token_issuer, LocalIssuer)
            assert token_issuer.algorithm == "RS256"
            kids.append(token_issuer.kid)
            token = token_issuer.verifier().verify(token_issuer.issue("alice"))
            assert token.subject == "alice"

        def test_gets_another_key(token_issuer):
            kids.append(token_issuer.kid)
            assert kids[0] != kids[1]
        """
    )

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=2)


def test_the_plugin_is_registered_under_the_name_accesstoken(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_needs_the_fixture(token_issuer):\n    pass\n")

    result = pytester.runpytest_subprocess("-p", "no:accesstoken")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'token_issuer' not found*"])
