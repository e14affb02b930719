"""The pytest plugin, loaded through its entry point in a separate pytest run."""

from __future__ import annotations

import textwrap

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


def test_the_marker_configures_the_fixture_at_every_level(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.token_issuer(issuer="https://module.test/")

        def test_module_marker(token_issuer):
            assert token_issuer.issuer == "https://module.test/"
            assert token_issuer.audience == "api"  # what the marker leaves out stays default

        @pytest.mark.token_issuer(audience="orders", algorithm="ES256")
        def test_markers_add_up(token_issuer):
            assert (token_issuer.algorithm, token_issuer.audience) == ("ES256", "orders")
            assert token_issuer.issuer == "https://module.test/"
            token = token_issuer.verifier().verify(token_issuer.issue("alice"))
            assert token.audience == ("orders",)
            assert token.header["alg"] == "ES256"

        @pytest.mark.token_issuer(algorithm="HS256", audience=["orders", "billing"])
        class TestClassMarker:
            def test_class_marker(self, token_issuer):
                assert token_issuer.is_symmetric
                raw = token_issuer.issue()
                assert token_issuer.verifier(audience="billing").verify(raw).subject == "user"

            @pytest.mark.token_issuer(issuer="https://closest.test/", algorithm="HS384")
            def test_the_closest_marker_wins(self, token_issuer):
                assert token_issuer.issuer == "https://closest.test/"
                assert token_issuer.algorithm == "HS384"
                assert token_issuer.audience == ["orders", "billing"]

        @pytest.mark.token_issuer(audience=None)
        def test_no_audience(token_issuer):
            assert "aud" not in token_issuer.verifier().verify(token_issuer.issue()).claims

        @pytest.mark.token_issuer(algorithm="none")
        def test_a_bad_option_fails_the_setup(token_issuer):
            pass

        @pytest.mark.token_issuer("ES256")
        def test_a_positional_argument_fails_the_setup(token_issuer):
            pass
        """
    )

    # --strict-markers: an unregistered marker would be an error of its own.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers")

    result.assert_outcomes(passed=5, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ValueError: unsupported algorithm 'none'*",
            "*TypeError: @pytest.mark.token_issuer takes keywords only*",
        ],
        consecutive=False,
    )


def test_the_factory_makes_issuers_and_sets_a_suite_s_defaults(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_factory="""
        import pytest
        from accesstoken import UnknownKey

        def test_a_stranger_s_token_is_refused(token_issuer_factory):
            ours = token_issuer_factory(audience="orders")
            stranger = token_issuer_factory(audience="orders", algorithm="ES256")
            assert stranger.algorithm == "ES256"
            verifier = ours.verifier()
            assert verifier.verify(ours.issue("alice")).subject == "alice"
            with pytest.raises(UnknownKey):
                verifier.verify(stranger.issue("mallory"))
        """
    )
    # A folder whose conftest.py overrides the factory: its tests get other defaults.
    suite = pytester.mkpydir("suite")
    (suite / "conftest.py").write_text(
        textwrap.dedent(
            """
            import functools

            import pytest
            from accesstoken.testing import LocalIssuer

            @pytest.fixture
            def token_issuer_factory():
                return functools.partial(LocalIssuer, "ES384", audience="orders-api")
            """
        )
    )
    (suite / "test_suite.py").write_text(
        textwrap.dedent(
            """
            import pytest

            def test_suite_defaults(token_issuer):
                assert (token_issuer.algorithm, token_issuer.audience) == ("ES384", "orders-api")

            @pytest.mark.token_issuer(audience="billing-api")
            def test_marker_over_suite_defaults(token_issuer):
                assert (token_issuer.algorithm, token_issuer.audience) == ("ES384", "billing-api")
            """
        )
    )

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=3)
