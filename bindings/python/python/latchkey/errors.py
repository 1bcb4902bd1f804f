"""latchkey's exceptions, grouped like the ``latchkey`` command's exit codes.

=========================  ==================  =========
group                      class               CLI exit
=========================  ==================  =========
configuration              ConfigError         2
a person must log in       LoginRequiredError  3
the identity provider      IdentityProviderError (ProviderError, LoginError, IdTokenError)  4
the network                NetworkError (NetworkTimeout)  5
the token store            StoreError          6
=========================  ==================  =========

Every error has ``hint`` (what to do next, also added as a note, so tracebacks show it)
and ``retryable``. The seeds' names are kept as aliases (``ReauthRequiredError``,
``TokenRefreshError``, ``TransportError``, ``AuthenticationError``…).

This module imports nothing from the compiled core, so the core can import it.
"""

from __future__ import annotations

from typing import Any


class LatchkeyError(Exception):
    """Base of every latchkey error."""

    hint: str | None = None
    retryable: bool = False
    exit_code: int = 1


class AuthError(LatchkeyError):
    """An error about obtaining or using credentials (cdse's ``AuthError``)."""


class ConfigError(LatchkeyError, ValueError):
    """The configuration is wrong: a missing field, a bad profile, an unknown preset."""

    exit_code = 2


class LoginRequiredError(AuthError):
    """No token can be had without a person logging in (again)."""

    exit_code = 3
    key: str | None = None


class IdentityProviderError(AuthError):
    """The identity provider refused or failed."""

    exit_code = 4


class ProviderError(IdentityProviderError):
    """An OAuth error response (``invalid_grant``, ``invalid_client``…)."""

    error: str | None = None
    description: str | None = None
    status: int | None = None


class LoginError(IdentityProviderError):
    """An interactive login did not complete (denied, timed out, state mismatch)."""


class IdTokenError(IdentityProviderError):
    """An ID token failed validation."""


class NetworkError(LatchkeyError, ConnectionError):
    """The identity provider could not be reached."""

    exit_code = 5


class NetworkTimeout(NetworkError, TimeoutError):
    """A request to the identity provider timed out."""


class StoreError(LatchkeyError):
    """The token store failed (unreadable, corrupt, insecure permissions, lock timeout)."""

    exit_code = 6


# The seeds' names.
ReauthRequiredError = LoginRequiredError  # cdse
TokenExpiredError = LoginRequiredError  # pywry
TokenRefreshError = ProviderError  # cdse, pywry
AuthenticationError = AuthError  # pywry
TransportError = NetworkError  # cdse
OAuth2FlowError = LoginError  # dhis2w
AuthFlowTimeout = LoginError  # pywry
TokenError = IdTokenError  # pywry


def _from_core(
    name: str, message: str, hint: str | None, attrs: dict[str, Any] | None
) -> LatchkeyError:
    """Builds the exception the compiled core raises (called from Rust)."""
    cls = globals().get(name)
    if not (isinstance(cls, type) and issubclass(cls, LatchkeyError)):
        cls = LatchkeyError
    exc = cls(message)
    exc.hint = hint
    for key, value in (attrs or {}).items():
        setattr(exc, key, value)
    if hint:
        exc.add_note(f"hint: {hint}")
    return exc


__all__ = [
    "AuthError",
    "AuthFlowTimeout",
    "AuthenticationError",
    "ConfigError",
    "IdTokenError",
    "IdentityProviderError",
    "LatchkeyError",
    "LoginError",
    "LoginRequiredError",
    "NetworkError",
    "NetworkTimeout",
    "OAuth2FlowError",
    "ProviderError",
    "ReauthRequiredError",
    "StoreError",
    "TokenError",
    "TokenExpiredError",
    "TokenRefreshError",
    "TransportError",
]
