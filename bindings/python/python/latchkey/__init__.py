"""latchkey: OAuth 2 / OIDC tokens for HTTP API clients, on latchkey's Rust core.

>>> import latchkey
>>> manager = latchkey.TokenManager(
...     latchkey.ClientCredentialsAuth("svc-client", "secret", scopes=["api:read"]),
...     token_url="https://idp.example.org/token",
...     store=latchkey.FileTokenStore("/var/lib/app/tokens"),
... )  # doctest: +SKIP
>>> manager.header()  # doctest: +SKIP
'Bearer ...'
"""

from __future__ import annotations

import json
import os
from typing import Any, Protocol, runtime_checkable

from . import _core, errors
from ._core import (
    AuthorizationCodeAuth,
    ClientCredentialsAuth,
    DeviceCodeAuth,
    FileTokenStore,
    KeyringTokenStore,
    MemoryTokenStore,
    OidcProvider,
    PasswordAuth,
    RedisTokenStore,
    RefreshTokenAuth,
    SqliteTokenStore,
    TokenSet,
    _after_fork,
    _profile,
    _scheme,
    new_token_may_help,
    reset_log_cache,
)
from ._manager import (
    ApiToken,
    ApiTokenAuth,
    BasicAuth,
    BearerAuth,
    HeaderAuth,
    PatAuth,
    QueryParamAuth,
    SessionManager,
    StaticAuth,
    TokenManager,
)
from ._dhis2 import OAuth2Auth
from ._providers import GenericOIDCProvider, GitHubProvider, GoogleProvider, MicrosoftProvider, OAuthProvider
from .errors import *  # noqa: F403

# A forked child (multiprocessing, gunicorn pre-fork) gets a runtime of its own instead of
# the parent's, whose threads did not survive the fork.
os.register_at_fork(after_in_child=_after_fork)


@runtime_checkable
class AuthProvider(Protocol):
    """What an HTTP adapter needs (dhis2w's ``AuthProvider``, sync and async)."""

    def header(self) -> str | None: ...
    async def aheader(self) -> str | None: ...
    async def aheaders(self) -> dict[str, str]: ...
    def refresh_if_needed(self) -> None: ...
    async def arefresh_if_needed(self) -> None: ...
    def invalidate(self, rejected: str | None = None) -> None: ...
    async def ainvalidate(self, rejected: str | None = None) -> None: ...


def auth_from_scheme(scheme: dict[str, Any] | str) -> TokenManager | StaticAuth:
    """The credentials a DHIS2 route's ``auth`` block describes (dhis2w's ``AuthScheme``:
    ``http-basic``, ``api-token``, ``api-headers``, ``api-query-params``,
    ``oauth2-client-credentials``), as a dict or its JSON text."""
    text = scheme if isinstance(scheme, str) else json.dumps(scheme)
    core = _scheme(text)
    if isinstance(core, _core.Manager):
        return TokenManager(core)
    return StaticAuth(core)


def profile(name: str | None = None) -> TokenManager | StaticAuth:
    """The credentials of a ``latchkey`` CLI profile (``profiles.toml`` and its token store).

    ``name`` defaults like the CLI: ``LATCHKEY_PROFILE``, the env-only profile, then the
    file's ``default``. Tokens are shared with ``latchkey token``: one refresh between them.
    """
    core = _profile(name)
    if isinstance(core, _core.Manager):
        return TokenManager(core)
    return StaticAuth(core)


__all__ = [
    "ApiToken",
    "ApiTokenAuth",
    "AuthProvider",
    "SessionManager",
    "auth_from_scheme",
    "AuthorizationCodeAuth",
    "BasicAuth",
    "BearerAuth",
    "ClientCredentialsAuth",
    "DeviceCodeAuth",
    "FileTokenStore",
    "GenericOIDCProvider",
    "GitHubProvider",
    "GoogleProvider",
    "HeaderAuth",
    "KeyringTokenStore",
    "MemoryTokenStore",
    "MicrosoftProvider",
    "OAuth2Auth",
    "OAuthProvider",
    "OidcProvider",
    "PasswordAuth",
    "PatAuth",
    "QueryParamAuth",
    "RedisTokenStore",
    "RefreshTokenAuth",
    "SqliteTokenStore",
    "StaticAuth",
    "TokenManager",
    "TokenSet",
    "errors",
    "new_token_may_help",
    "profile",
    "reset_log_cache",
]
__all__ += errors.__all__
