"""The settings of a Django project: its one verifier, resource metadata and public URL.

`ACCESSTOKEN_VERIFIER` is a dotted path to a `Verifier`, or to a callable with no arguments
returning one. It is resolved (and called) once per process, on first use rather than at
import, so that a factory may read other settings. `ACCESSTOKEN_RESOURCE` (a
`ProtectedResource`) and `ACCESSTOKEN_PUBLIC_URL` are read with it, once: reading a missing
setting raises inside Django's `LazySettings`, which would cost every request microseconds.
`override_settings` of any of the three makes them all be read again.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from ._resource import ProtectedResource
from ._verifier import Verifier

__all__ = ["Project", "get_project", "get_verifier"]

_SETTING = "ACCESSTOKEN_VERIFIER"
_SETTINGS = frozenset((_SETTING, "ACCESSTOKEN_RESOURCE", "ACCESSTOKEN_PUBLIC_URL"))
_lock = threading.Lock()


class Project(NamedTuple):
    """What the project's settings say every guarded request is checked with."""

    verifier: Verifier
    resource: ProtectedResource | None
    public_url: str | None


_project: Project | None = None


def get_verifier() -> Verifier:
    """Return the verifier named by `settings.ACCESSTOKEN_VERIFIER`, resolved once per process.

    Raises:
        ImproperlyConfigured: the setting is missing, cannot be imported, or names neither a
            verifier nor a callable returning one.
    """
    return get_project().verifier


def get_project() -> Project:
    """Return the project's verifier, resource and public URL, read once per process.

    Raises:
        ImproperlyConfigured: as `get_verifier()` says.
        TypeError: `ACCESSTOKEN_RESOURCE` is not a `ProtectedResource` (nor None).
    """
    global _project  # one verifier per process, as the setting says
    project = _project
    if project is not None:  # no lock on the path every request takes
        return project
    with _lock:
        if _project is None:
            resource = getattr(settings, "ACCESSTOKEN_RESOURCE", None)
            if resource is not None and not isinstance(resource, ProtectedResource):
                raise TypeError("ACCESSTOKEN_RESOURCE must be a ProtectedResource or None")
            verifier = _resolve(getattr(settings, _SETTING, None))
            public_url = getattr(settings, "ACCESSTOKEN_PUBLIC_URL", None)
            _project = Project(verifier, resource, public_url)
        return _project


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


def _forget_project(*, setting: str, **_kwargs: Any) -> None:
    global _project
    if setting in _SETTINGS:  # override_settings() in tests
        _project = None


setting_changed.connect(_forget_project)
