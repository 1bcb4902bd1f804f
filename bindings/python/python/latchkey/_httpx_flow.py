"""One ``Auth`` implementation for httpx and its fork httpx2 (each client checks
``isinstance(auth, <its own> Auth)``, so each gets its own class built from this one)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from types import ModuleType
from typing import Any

from . import _adapter


def build_auth_class(httpx: ModuleType) -> type:
    """An ``httpx.Auth`` subclass for the given httpx-compatible module."""

    class Auth(httpx.Auth):  # type: ignore[misc, name-defined]
        """Adds latchkey credentials to every request; after a 401, renews them and retries
        once (sync and async clients)."""

        requires_request_body = False
        requires_response_body = False

        def __init__(self, provider: Any, *, retry_on_401: bool = True) -> None:
            self.provider = provider
            self.retry_on_401 = retry_on_401

        def __repr__(self) -> str:
            return f"latchkey.{httpx.__name__}.Auth({self.provider!r})"

        @staticmethod
        def _apply(request: Any, headers: dict[str, str], params: dict[str, str]) -> None:
            for name, value in headers.items():
                request.headers[name] = value
            if params:
                request.url = request.url.copy_merge_params(params)

        def _should_retry(self, request: Any, response: Any) -> bool:
            return (
                self.retry_on_401
                and response.status_code == 401
                # A streamed body was consumed by the first send.
                and isinstance(request.stream, httpx.ByteStream)
                and _adapter.challenge_allows_retry(response.headers.get_list("www-authenticate"))
            )

        def sync_auth_flow(self, request: Any) -> Generator[Any, Any, None]:
            sent = _adapter.credentials(self.provider)
            self._apply(request, *sent)
            response = yield request
            if not self._should_retry(request, response):
                return
            self.provider.invalidate(_adapter.rejected_header(sent[0]))
            renewed = _adapter.credentials(self.provider)
            if renewed == sent:
                return  # fixed credentials: the same request gets the same answer
            self._apply(request, *renewed)
            yield request

        async def async_auth_flow(self, request: Any) -> AsyncGenerator[Any, Any]:
            sent = await _adapter.acredentials(self.provider)
            self._apply(request, *sent)
            response = yield request
            if not self._should_retry(request, response):
                return
            await self.provider.ainvalidate(_adapter.rejected_header(sent[0]))
            renewed = await _adapter.acredentials(self.provider)
            if renewed == sent:
                return
            self._apply(request, *renewed)
            yield request

    Auth.__module__ = f"latchkey.{httpx.__name__}"
    return Auth
