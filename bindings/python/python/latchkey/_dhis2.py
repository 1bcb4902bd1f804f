"""dhis2w-client's ``OAuth2Auth``: authorization code + PKCE against a DHIS2 instance's
``/oauth2/*`` endpoints, the redirect caught on a loopback port, as a view over the core's
browser login and token manager."""

from __future__ import annotations

import asyncio
import inspect
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, cast

from . import _core
from ._manager import TokenManager
from .errors import LoginRequiredError

RedirectCapturer = Callable[[str, str], Any]
"""``(auth_url, expected_state) -> code``, or a coroutine function of the same shape."""


def _captured(capturer: RedirectCapturer) -> Callable[[str], None]:
    """An ``on_url`` callback that asks ``capturer`` for the code and hands it to the
    core's loopback receiver, which checks the state and finishes the login.

    The capturer runs on a thread of its own: it may wait for a person for minutes, and
    the login's own timeout still applies."""

    def on_url(auth_url: str) -> None:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(auth_url).query))
        state, redirect_uri = query.get("state", ""), query.get("redirect_uri", "")

        def run() -> None:
            try:
                code = capturer(auth_url, state)
                if inspect.isawaitable(code):
                    code = asyncio.run(_awaited(code))
                answer = {"code": str(code), "state": state}
            except Exception as exc:  # noqa: BLE001 - the login must end with the reason, not time out
                answer = {
                    "error": "access_denied",
                    "error_description": f"redirect_capturer failed: {type(exc).__name__}: {exc}",
                    "state": state,
                }
            _deliver(redirect_uri, answer)

        threading.Thread(target=run, name="latchkey-redirect-capturer", daemon=True).start()

    return on_url


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _deliver(redirect_uri: str, answer: dict[str, str]) -> None:
    separator = "&" if urllib.parse.urlsplit(redirect_uri).query else "?"
    url = redirect_uri + separator + urllib.parse.urlencode(answer)
    # The receiver is on loopback: never through a proxy from the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=30) as response:
            response.read()
    except OSError:
        # The receiver answers an error page (HTTP 4xx) for a refused login and then
        # reports the reason itself; a receiver that is gone has timed out already.
        pass


class OAuth2Auth(TokenManager):
    """dhis2w-client's ``OAuth2Auth`` over latchkey's token manager.

    ``OAuth2Auth(base_url, client_id, client_secret, scope, redirect_uri, token_store,
    store_key=None, redirect_capturer=None, open_browser=True)``: authorization code + PKCE
    against ``{base_url}/oauth2/authorize`` and ``{base_url}/oauth2/token``, the client
    secret sent in the body (``client_secret_post``, as DHIS2 clients are used), tokens kept
    in ``token_store`` (a latchkey store or a dhis2w ``TokenStore``; ``None`` keeps them in
    memory) under ``store_key``.
    The core's ``dhis2`` preset applies: the token endpoint's redirect to ``/oauth2/token/``
    is followed, and a login first fetches ``{base_url}/.well-known/openid-configuration``,
    so a DHIS2 whose authorization server is off fails before a browser opens, with the
    ``dhis.conf`` settings it needs as the error's hint.

    ``redirect_capturer(auth_url, expected_state) -> code`` (plain or ``async``) replaces
    opening the browser: it gets the authorization URL and returns the code it captured;
    latchkey still checks the state. ``open_browser=False`` prints the URL to stderr instead
    of opening a browser (ignored when a capturer is given).

    ``await headers()`` and ``await refresh_if_needed()`` are dhis2w's async ``AuthProvider``
    methods; everything else is ``TokenManager``'s (``header()``, ``await aheader()``, the
    HTTP adapters). ``authorize_url=`` and ``token_url=`` override the DHIS2 paths.
    """

    authorize_url: str
    token_url: str

    def __new__(
        cls,
        base_url: str,
        client_id: str,
        client_secret: str | None,
        scope: str = "ALL",
        redirect_uri: str | None = "http://localhost:8765",
        token_store: Any = None,
        store_key: str | None = None,
        redirect_capturer: RedirectCapturer | None = None,
        open_browser: bool = True,
        *,
        authorize_url: str | None = None,
        token_url: str | None = None,
        **kwargs: Any,
    ) -> OAuth2Auth:
        base = base_url.rstrip("/")
        authorize = authorize_url or f"{base}/oauth2/authorize"
        token = token_url or f"{base}/oauth2/token"
        grant = _core.AuthorizationCodeAuth(
            authorize,
            client_id=client_id,
            scopes=scope.split(),
            redirect_uri=redirect_uri,
            open_browser=open_browser and redirect_capturer is None,
            on_url=None if redirect_capturer is None else _captured(redirect_capturer),
        )
        # The `dhis2` preset: the token endpoint's trailing-slash redirect is followed, the
        # secret goes in the body (`client_secret_post`) unless `client_auth=` says otherwise,
        # and a login first checks that the server has its authorization server on.
        kwargs.setdefault("preset", "dhis2")
        kwargs.setdefault("issuer", base)
        self = cast(
            OAuth2Auth,
            super().__new__(
                cls,
                grant,
                token_url=token,
                client_id=client_id,
                client_secret=client_secret or None,
                store=token_store,
                key=store_key,
                **kwargs,
            ),
        )
        self.authorize_url, self.token_url = authorize, token
        return self

    # dhis2w's `AuthProvider` methods are async, and run the browser login when there is no
    # usable token (the manager alone raises `LoginRequiredError` there); the sync ones stay
    # as `header()` and `TokenManager.refresh_if_needed(auth)`.
    async def headers(self) -> dict[str, str]:  # type: ignore[override]
        """``{"Authorization": "Bearer …"}``, refreshing or logging in first if needed."""
        try:
            return await self.aheaders()
        except LoginRequiredError:
            await self.alogin()
            return await self.aheaders()

    async def refresh_if_needed(self) -> None:  # type: ignore[override]
        """Refreshes when close to expiry; logs in (the browser flow) when the manager says a
        login is required (no stored token, nothing to refresh with)."""
        try:
            await self.arefresh_if_needed()
        except LoginRequiredError:
            await self.alogin()
