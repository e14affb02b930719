"""Django configured once for the Django and DRF tests: settings, verifiers and URLs.

`settings.configure()` is process-wide; each test module installs its own URLs and picks a
verifier with `override_settings`, which also makes `accesstoken.django` resolve it anew.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import django
from django.conf import settings
from django.test import override_settings

from accesstoken import HMACSecret, TokenVerifier

from ._support import AUDIENCE, ISSUER, SECRET, UnreachableKeys

if not settings.configured:
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
        DATABASES={},
        MIDDLEWARE=[],
        ROOT_URLCONF=__name__,
        USE_TZ=True,
    )
    django.setup()

urlpatterns: list[Any] = []

verifier = TokenVerifier(HMACSecret(SECRET), issuer=ISSUER, audience=AUDIENCE)
down_verifier = TokenVerifier(UnreachableKeys(), issuer=ISSUER, audience=AUDIENCE)


def make_verifier() -> TokenVerifier:
    """The factory form of the setting: called once, on first use."""
    return verifier


@contextmanager
def configured(
    urls: str, verifier_path: str = f"{__name__}.verifier", **more: Any
) -> Iterator[None]:
    """Serve the `urlpatterns` of module `urls` with the verifier at `verifier_path`."""
    with override_settings(ROOT_URLCONF=urls, ACCESSTOKEN_VERIFIER=verifier_path, **more):
        yield
