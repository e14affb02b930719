"""The `ACCESSTOKEN_VERIFIER` setting: the one verifier of a Django project.

A dotted path to a `Verifier`, or to a callable with no arguments returning one. It is
resolved (and called) once per process, on first use rather than at import, so that a
factory may read other settings; `override_settings` makes it resolve again.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from ._verifier import Verifier

__all__ = ["get_verifier"]

_SETTING = "ACCESSTOKEN_VERIFIER"
_lock = threading.Lock()
_verifier: Verifier | None = None


def get_verifier() -> Verifier:
    """Return the verifier named by `settings.ACCESSTOKEN_VERIFIER`, resolved once per process.

    Raises:
        ImproperlyConfigured: the setting is missing, cannot be imported, or names neither a
            verifier nor a callable returning one.
    """
    global _verifier  # one verifier per process, as the setting says
    if _verifier is not None:  # no lock on the path every request takes
        return _verifier
    with _lock:
        if _verifier is None:
            _verifier = _resolve(getattr(settings, _SETTING, None))
        return _verifier


def _resolve(path: object) -> Verifier:
    if not isinstance(path, str):
        raise ImproperlyConfigured(f"{_SETTING} must be the dotted path of a Verifier")
    try:
        found = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"{_SETTING}: cannot import {path!r}: {exc}") from exc
    if not isinstance(found, Verifier) and callable(found):
        found = found()
    if not isinstance(found, Verifier):
        raise ImproperlyConfigured(f"{_SETTING}: {path!r} is not a Verifier nor returns one")
    return found


def _forget_verifier(*, setting: str, **_kwargs: Any) -> None:
    global _verifier
    if setting == _SETTING:  # override_settings() in tests
        _verifier = None


setting_changed.connect(_forget_verifier)
