"""``latchkey.requests.Auth``: latchkey credentials for ``requests``.

>>> session.auth = latchkey.requests.Auth(manager)  # doctest: +SKIP

After a 401 the credentials are renewed and the request is sent once more (like
``requests.auth.HTTPDigestAuth``), unless the challenge says a new token cannot help, the
body cannot be sent again (a generator), or the credentials did not change.
"""

from __future__ import annotations

from typing import Any

import requests as _requests
from requests.cookies import extract_cookies_to_jar

from . import _adapter


def _apply(request: Any, headers: dict[str, str], params: dict[str, str]) -> None:
    for name, value in headers.items():
        request.headers[name] = value
    if params:
        request.prepare_url(request.url, params)


def _body_position(body: Any) -> tuple[bool, int | None]:
    """Whether the body can be sent again, and where a seekable one starts."""
    if body is None or isinstance(body, (bytes, str)):
        return True, None
    tell = getattr(body, "tell", None)
    if tell is not None and hasattr(body, "seek"):
        try:
            return True, int(tell())
        except OSError:
            return False, None
    return False, None


class Auth(_requests.auth.AuthBase):
    """Adds a latchkey provider's credentials to every request; one retry after a 401."""

    def __init__(self, provider: Any, *, retry_on_401: bool = True) -> None:
        self.provider = provider
        self.retry_on_401 = retry_on_401

    def __repr__(self) -> str:
        return f"latchkey.requests.Auth({self.provider!r})"

    def __call__(self, request: Any) -> Any:
        sent = _adapter.credentials(self.provider)
        _apply(request, *sent)
        if not self.retry_on_401:
            return request
        replayable, position = _body_position(request.body)

        # State lives in the closure: a Session's auth object is shared by threads.
        def retry_once(response: Any, **kwargs: Any) -> Any:
            if (
                response.status_code != 401
                or not replayable
                or not _adapter.challenge_allows_retry(
                    v.strip() for v in [response.headers.get("www-authenticate", "")] if v.strip()
                )
            ):
                return response
            self.provider.invalidate(_adapter.rejected_header(sent[0]))
            renewed = _adapter.credentials(self.provider)
            if renewed == sent:
                return response
            if position is not None:
                response.request.body.seek(position)
            response.content  # noqa: B018 - read it, so the connection can be reused
            response.close()
            retry = response.request.copy()
            retry.deregister_hook("response", retry_once)
            extract_cookies_to_jar(retry._cookies, response.request, response.raw)
            retry.prepare_cookies(retry._cookies)
            _apply(retry, *renewed)
            again = response.connection.send(retry, **kwargs)
            again.history.append(response)
            again.request = retry
            return again

        request.register_hook("response", retry_once)
        return request


__all__ = ["Auth"]
