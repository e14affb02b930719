"""Step-up authentication (RFC 9470): does the token's user authentication meet the request?

Some requests need more than a valid token: a recent login, or a stronger one (a second
factor). The token says how its user authenticated, in `acr` (the authentication context
class) and `auth_time` (when); a resource server that finds either wanting answers 401
`insufficient_user_authentication`, naming in its challenge what would do, and the client
sends the user back to the authorization server with those `acr_values` / `max_age`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from . import _options
from ._claims import is_numeric_date
from .errors import InsufficientUserAuthentication

__all__ = ["check_step_up", "step_up_demand"]


def step_up_demand(
    acr_values: str | Collection[str], max_age: float | None
) -> tuple[tuple[str, ...], float | None]:
    """Return a call's demands, checked: `acr_values` (one string is one value), `max_age`.

    Raises:
        TypeError: `acr_values` is not strings, or `max_age` not a number.
        ValueError: an empty `acr` value, or a negative or NaN `max_age`.
    """
    values = (acr_values,) if isinstance(acr_values, str) else tuple(acr_values)
    if values:
        _options.names(values, "acr_values")  # strings, none of them empty
    if max_age is not None:
        max_age = _options.seconds(max_age, "max_age")
    return values, max_age


def check_step_up(
    claims: Mapping[str, Any],
    acr_values: str | Collection[str],
    max_age: float | None,
    now: float,
    leeway: float,
) -> None:
    """Raise unless the token's user authentication meets `acr_values` and `max_age`.

    With `acr_values` (any one of them will do), the `acr` claim must equal one of them
    exactly. With `max_age`, `auth_time` must be a NumericDate no more than `max_age`
    seconds before `now`, with `leeway` for clock skew either way (a later `auth_time`
    than `now + leeway` is refused as well). Nothing demanded: nothing checked.

    Raises:
        InsufficientUserAuthentication: carrying every demand of the call, for its
            challenge, whichever one the token missed.
        TypeError, ValueError: a demand of the wrong type or value (as `step_up_demand`).
    """
    if not acr_values and max_age is None:
        return
    values, max_age = step_up_demand(acr_values, max_age)
    if values and claims.get("acr") not in values:
        raise InsufficientUserAuthentication(acr_values=values, max_age=max_age)
    if max_age is not None:
        auth_time = claims.get("auth_time")
        if not (is_numeric_date(auth_time) and now - max_age - leeway <= auth_time <= now + leeway):
            raise InsufficientUserAuthentication(acr_values=values, max_age=max_age)
