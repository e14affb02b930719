"""Which request paths `AccessTokenMiddleware(exclude=...)` lets through unchecked.

An excluded path skips authentication, so the test must never exclude a path that the
application, or anything behind it, will serve as another one. Paths are still normalised
after the middleware: `/health/../report.txt` starts with `/health/`, yet Starlette's
`StaticFiles` (like `os.path.normpath`, a proxy or any RFC 3986 §5.2.4 resolver) serves it
as `/report.txt`. Servers percent-decode the path first (uvicorn hands over
`/health/%2e%2e/report.txt` as `/health/../report.txt`), and some proxies decode again.

So a path is excluded only when it can be read one way: no `.` or `..` segment, no empty
segment (`//`), no backslash (a separator on Windows), and no `%` (which a second decoding
could turn into any of these). A path that fails is authenticated as usual, whatever it
names: refusing to exclude it is always safe. A path that passes is compared as the
application routes it, below `scope["root_path"]` when it starts with it (as Starlette's
`get_route_path` does), so that an app mounted at `/api` with `exclude=("/health",)` lets
`/api/health` through, and one mounted at `/health` does not let all of itself through.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = ["ExcludedPaths"]

# A dot segment at the very end ("/health/..") has no slash after it.
_DOT_ENDINGS: Final = ("/.", "/..")


class ExcludedPaths:
    """Paths let through unchecked, each with everything below it, never a look-alike.

    Raises:
        TypeError: `paths` is a single string, or holds something other than strings.
        ValueError: an entry does not start with "/", is "/" itself (which would turn
            authentication off for every path), or is not a plain path.
    """

    __slots__ = ("_below", "_exact", "paths")

    def __init__(self, paths: Iterable[str]) -> None:
        if isinstance(paths, str):
            raise TypeError('exclude must be a collection of paths, such as ("/health",)')
        entries = []
        for path in paths:
            if not isinstance(path, str):
                raise TypeError(f"exclude entries must be str, not {type(path).__name__}")
            entry = path.rstrip("/")
            if not entry:
                raise ValueError(f"exclude={path!r} would turn authentication off for every path")
            if not path.startswith("/") or not _is_plain(path):
                raise ValueError(f"{path!r} is not a plain path starting with '/', as '/health'")
            entries.append(entry)
        #: The entries, without their trailing slash.
        self.paths = tuple(entries)
        # Two C-level tests per request: the path itself, or anything below it.
        self._exact = frozenset(entries)
        self._below = tuple(entry + "/" for entry in entries)

    def match(self, scope: Mapping[str, Any]) -> bool:
        """Return whether the HTTP or websocket request of `scope` skips authentication."""
        path: str = scope["path"]
        route = path
        root = scope.get("root_path")
        if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("/", ""):
            route = path[len(root) :]
        return (route in self._exact or route.startswith(self._below)) and _is_plain(path)


def _is_plain(path: str) -> bool:
    """Return whether `path` reads the same to every normaliser: nothing to resolve or decode."""
    # Five C-level substring tests rather than a loop: health checks come often.
    return not (
        "%" in path
        or "\\" in path
        or "//" in path
        or "/./" in path
        or "/../" in path
        or path.endswith(_DOT_ENDINGS)
    )
