"""Type stubs for the compiled core (``latchkey._core``); checked by ``mypy.stubtest``."""

import asyncio
from collections.abc import Callable
from os import PathLike
from typing import Any, Self, final

from typing_extensions import disjoint_base

@final
class TokenSet:
    @property
    def access_token(self) -> str: ...
    @property
    def token_type(self) -> str: ...
    @property
    def refresh_token(self) -> str | None: ...
    @property
    def id_token(self) -> str | None: ...
    @property
    def scopes(self) -> list[str]: ...
    @property
    def expires_at(self) -> float | None: ...
    @property
    def refresh_expires_at(self) -> float | None: ...
    @property
    def obtained_at(self) -> float: ...
    @property
    def is_expired(self) -> bool: ...
    @property
    def authorization_header(self) -> str: ...
    def access_valid(self, skew_seconds: float = 0.0) -> bool: ...
    def refresh_valid(self, skew_seconds: float = 0.0) -> bool: ...

@disjoint_base
class MemoryTokenStore:
    def __new__(cls) -> Self: ...

@disjoint_base
class FileTokenStore:
    def __new__(cls, directory: str | PathLike[str]) -> Self: ...
    @property
    def directory(self) -> str: ...

@disjoint_base
class ClientCredentialsAuth:
    def __new__(
        cls,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        scopes: list[str] = ...,
        params: dict[str, str] = ...,
    ) -> Self: ...

@disjoint_base
class PasswordAuth:
    def __new__(
        cls,
        username: str,
        password: str,
        *,
        totp: str | None = None,
        client_id: str | None = None,
        scopes: list[str] = ...,
    ) -> Self: ...

@disjoint_base
class RefreshTokenAuth:
    def __new__(cls, refresh_token: str, *, client_id: str | None = None) -> Self: ...

@disjoint_base
class DeviceCodeAuth:
    def __new__(
        cls,
        device_authorization_url: str,
        *,
        client_id: str | None = None,
        scopes: list[str] = ...,
        on_prompt: Callable[[str, str, str | None], object] | None = None,
    ) -> Self: ...

@disjoint_base
class AuthorizationCodeAuth:
    def __new__(
        cls,
        authorization_url: str,
        *,
        client_id: str | None = None,
        scopes: list[str] = ...,
        redirect_uri: str | None = None,
        open_browser: bool = True,
        timeout: float = 300.0,
        on_url: Callable[[str], object] | None = None,
    ) -> Self: ...

_Grant = ClientCredentialsAuth | PasswordAuth | RefreshTokenAuth | DeviceCodeAuth | AuthorizationCodeAuth
_Store = MemoryTokenStore | FileTokenStore

@disjoint_base
class Manager:
    def __new__(
        cls,
        grant: _Grant | Manager,
        *,
        token_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        client_auth: str = "basic",
        store: _Store | None = None,
        key: str | None = None,
        refresh_margin: float = 60.0,
        lock_wait: float = 30.0,
        background_refresh: bool = False,
        on_reauth_required: Callable[[str], object] | None = None,
        revocation_url: str | None = None,
    ) -> Self: ...
    @property
    def key(self) -> str: ...
    def header(self) -> str: ...
    def cached_header(self) -> str | None: ...
    def refresh_if_needed(self) -> None: ...
    def invalidate(self, rejected: str | None = None) -> None: ...
    def login(self) -> TokenSet: ...
    def token(self) -> TokenSet: ...
    def logout(self) -> None: ...
    def status(self) -> dict[str, Any]: ...
    def _header_future(self, event_loop: asyncio.AbstractEventLoop) -> asyncio.Future[str]: ...
    def _refresh_future(self, event_loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]: ...
    def _invalidate_future(
        self, event_loop: asyncio.AbstractEventLoop, rejected: str | None = None
    ) -> asyncio.Future[None]: ...
    def _login_future(self, event_loop: asyncio.AbstractEventLoop) -> asyncio.Future[TokenSet]: ...
    def _token_future(self, event_loop: asyncio.AbstractEventLoop) -> asyncio.Future[TokenSet]: ...

@disjoint_base
class StaticCredentials:
    def __new__(
        cls,
        kind: str | StaticCredentials,
        *,
        username: str | None = None,
        secret: str | None = None,
        values: dict[str, str] | None = None,
    ) -> Self: ...
    @property
    def kind(self) -> str: ...
    def header(self) -> str | None: ...
    def headers(self) -> dict[str, str]: ...
    def query_params(self) -> dict[str, str]: ...
    def refresh_if_needed(self) -> None: ...
    def invalidate(self, rejected: str | None = None) -> None: ...

def _profile(name: str | None = None) -> Manager | StaticCredentials: ...
def _after_fork() -> None: ...
def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None: ...
def new_token_may_help(www_authenticate: str) -> bool: ...
def reset_log_cache() -> None: ...
