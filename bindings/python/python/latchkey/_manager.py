"""The public manager: the compiled ``Manager`` plus its async twins."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from . import _core


def _takes_an_argument(callback: Any) -> bool:
    try:
        inspect.signature(callback).bind("reason")
    except TypeError:
        return False
    except ValueError:  # no signature to read (some builtins): assume it does
        return True
    return True


def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


class TokenManager(_core.Manager):
    """Obtains, refreshes, stores and shares the tokens of one key.

    One object serves threads and event loops: ``header()`` / ``await aheader()``,
    ``refresh_if_needed()`` / ``arefresh_if_needed()``, ``invalidate()`` /
    ``ainvalidate()``, ``login()`` / ``alogin()``, ``token()`` / ``atoken()``. At most one
    refresh per key runs at a time across threads, tasks and (with a shared store)
    processes.

    ``TokenManager(grant, token_url=..., client_id=..., client_secret=..., store=...,
    key=..., refresh_margin=60.0)``; cdse's ``expiry_skew`` and pywry's
    ``refresh_buffer_seconds`` are accepted as ``refresh_margin``, pywry's ``session_key``
    and dhis2w's ``store_key`` as ``key``, pywry's ``token_store`` as ``store``; cdse's
    ``http=`` client is accepted and not used (the core makes the token requests).
    """

    # `_cell` as a slot: `aheader` reads it on every call, and a slot is read faster than an
    # entry in the instance dictionary of a class built on an extension type.
    __slots__ = ("_cell", "__dict__", "__weakref__")
    _cell: list[str | None]

    def __new__(cls, grant: Any, *args: Any, **kwargs: Any) -> TokenManager:
        from ._providers import OAuthProvider

        if isinstance(grant, OAuthProvider):
            # pywry: a provider in place of a grant means its browser login.
            login = {k: kwargs.pop(k) for k in ("open_browser", "redirect_uri", "on_url") if k in kwargs}
            for name, value in grant.manager_options().items():
                kwargs.setdefault(name, value)
            grant = grant.grant(**login)
        for alias in ("expiry_skew", "refresh_buffer_seconds"):
            if alias in kwargs:
                kwargs["refresh_margin"] = float(kwargs.pop(alias))
        for alias in ("session_key", "store_key"):
            if alias in kwargs:
                kwargs["key"] = kwargs.pop(alias)
        if "token_store" in kwargs:
            kwargs["store"] = kwargs.pop("token_store")
        # cdse passes its httpx client; latchkey's token requests use the core's own client.
        kwargs.pop("http", None)
        callback = kwargs.get("on_reauth_required")
        if callback is not None and not _takes_an_argument(callback):
            # pywry's callback takes no argument; latchkey passes the reason.
            kwargs["on_reauth_required"] = lambda reason: callback()
        self = super().__new__(cls, grant, *args, **kwargs)
        # The header while it is fresh, kept current by the Rust side (which empties it when
        # the refresh becomes due, on invalidation, login, logout and in a forked child):
        # reading it costs no call into the extension, which `aheader`'s speed depends on.
        self._cell = self._header_cell()
        return self

    async def aheader(self) -> str:
        """The ``Authorization`` value; awaits a refresh only when one is needed."""
        header = self._cell[0]
        if header is not None:
            return header
        header = self.cached_header()
        if header is not None:
            return header
        return await self._header_future(_loop())

    async def aheaders(self) -> dict[str, str]:
        """``{"Authorization": await aheader()}`` (dhis2w's ``AuthProvider.headers``)."""
        return {"Authorization": await self.aheader()}

    def headers(self) -> dict[str, str]:
        """``{"Authorization": header()}``."""
        return {"Authorization": self.header()}

    async def arefresh_if_needed(self) -> None:
        """Refreshes now if the token is missing or close to expiry."""
        if self.cached_header() is None:
            await self._refresh_future(_loop())

    async def ainvalidate(self, rejected: str | None = None) -> None:
        """The async twin of ``invalidate``."""
        try:
            await self._invalidate_future(_loop(), rejected)
        finally:
            # The core rejected the token outside the interpreter: a concurrent
            # `cached_header()` may have put it back meanwhile.
            self._forget_header()

    async def alogin(self) -> _core.TokenSet:
        """The async twin of ``login``."""
        try:
            return await self._login_future(_loop())
        finally:
            self._forget_header()

    async def alogout(self) -> None:
        """The async twin of ``logout``: revokes where the provider supports it, deletes the
        stored tokens."""
        try:
            await self._logout_future(_loop())
        finally:
            self._forget_header()

    async def atoken(self) -> _core.TokenSet:
        """The async twin of ``token``."""
        return await self._token_future(_loop())

    # cdse's names.
    def authorization_header(self) -> str:
        """cdse's name for ``header()``."""
        return self.header()

    def force_refresh(self) -> None:
        """cdse's name for ``invalidate()``."""
        self.invalidate()

    def get_token(self) -> _core.TokenSet:
        """cdse's name for ``token()``."""
        return self.token()


class SessionManager(TokenManager):
    """pywry's ``SessionManager`` names over the same manager:
    ``SessionManager(grant, token_url=..., token_store=..., session_key=...,
    refresh_buffer_seconds=..., on_reauth_required=...)``."""

    async def initialize(self) -> None:
        """Loads stored tokens and refreshes them if due (pywry's ``initialize``)."""
        await self.arefresh_if_needed()

    async def get_access_token(self) -> str:
        """The access token itself (not the header), refreshed when due."""
        return (await self.atoken()).access_token

    async def get_token_set(self) -> _core.TokenSet:
        """The current token set."""
        return await self.atoken()

    async def refresh(self) -> None:
        """Obtains a new access token now (pywry's ``refresh``)."""
        await self.ainvalidate()

    async def logout(self) -> None:  # type: ignore[override]
        """Revokes the tokens where the provider supports it and deletes them from the store
        (pywry's async ``logout``; ``TokenManager.logout(manager)`` is the sync form)."""
        await self.alogout()


class StaticAuth(_core.StaticCredentials):
    """Fixed credentials with the manager's shape (sync and async)."""

    async def aheader(self) -> str | None:
        return self.header()

    async def aheaders(self) -> dict[str, str]:
        return self.headers()

    async def arefresh_if_needed(self) -> None:
        return None

    async def ainvalidate(self, rejected: str | None = None) -> None:
        return None


class BasicAuth(StaticAuth):
    """HTTP Basic (dhis2w's ``BasicAuth``)."""

    def __new__(cls, username: str, password: str) -> BasicAuth:
        return super().__new__(cls, "basic", username=username, secret=password)


class PatAuth(StaticAuth):
    """DHIS2 personal access token: ``Authorization: ApiToken …`` (dhis2w's ``PatAuth``)."""

    def __new__(cls, token: str) -> PatAuth:
        return super().__new__(cls, "api-token", secret=token)


ApiToken = PatAuth
ApiTokenAuth = PatAuth


class BearerAuth(StaticAuth):
    """A fixed bearer token."""

    def __new__(cls, token: str) -> BearerAuth:
        return super().__new__(cls, "bearer", secret=token)


class HeaderAuth(StaticAuth):
    """Fixed headers."""

    def __new__(cls, headers: dict[str, str]) -> HeaderAuth:
        return super().__new__(cls, "headers", values=headers)


class QueryParamAuth(StaticAuth):
    """Fixed query parameters."""

    def __new__(cls, params: dict[str, str]) -> QueryParamAuth:
        return super().__new__(cls, "query", values=params)
