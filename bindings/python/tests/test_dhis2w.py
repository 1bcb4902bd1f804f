"""dhis2w-client's ``OAuth2Auth`` (authorization code + PKCE, loopback redirect), with its
``redirect_capturer`` and ``open_browser`` arguments, against the real IdP's login pages
played by a scripted person."""

from __future__ import annotations

import asyncio
import socket
import threading
import urllib.parse

import pytest

import latchkey

from .conftest import Idp
from .person import Person


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dhis2w_auth(idp: Idp, **kwargs: object) -> latchkey.OAuth2Auth:
    # The fixture serves /auth and /token, not DHIS2's /oauth2/* paths: the overrides point
    # the same class at it. `native-app` is a public client (no secret).
    kwargs.setdefault("token_store", latchkey.MemoryTokenStore())
    return latchkey.OAuth2Auth(
        base_url=idp.issuer,
        client_id="native-app",
        client_secret="",
        scope="openid offline_access",
        redirect_uri=f"http://127.0.0.1:{free_loopback_port()}/callback",
        store_key="profile.prod",
        authorize_url=idp.issuer + "/auth",
        token_url=idp.token_url,
        **kwargs,
    )


def test_dhis2_paths_come_from_the_base_url() -> None:
    auth = latchkey.OAuth2Auth(
        base_url="https://dhis2.example.org/",
        client_id="dhis2-utils",
        client_secret="s3cret-value",
        scope="ALL",
        redirect_uri="http://localhost:8765",
        token_store=None,
        store_key="profile.prod",
    )
    assert auth.authorize_url == "https://dhis2.example.org/oauth2/authorize"
    assert auth.token_url == "https://dhis2.example.org/oauth2/token"
    assert isinstance(auth, latchkey.TokenManager) and "s3cret-value" not in repr(auth)


def test_redirect_capturer_returns_the_code(idp: Idp) -> None:
    seen: list[tuple[str, str]] = []

    async def capture(auth_url: str, expected_state: str) -> str:
        seen.append((auth_url, expected_state))
        redirect = await asyncio.to_thread(Person().log_in_and_consent, auth_url, idp.issuer)
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(redirect).query))
        assert query["state"] == expected_state
        return query["code"]

    auth = dhis2w_auth(idp, redirect_capturer=capture)

    async def run() -> dict[str, str]:
        headers = await auth.headers()  # no token yet: the browser login, via the capturer
        await auth.refresh_if_needed()  # a valid token: nothing to do
        return headers

    headers = asyncio.run(run())
    assert headers["Authorization"].startswith("Bearer ")
    assert auth.header() == headers["Authorization"]
    ((auth_url, state),) = seen
    assert "code_challenge=" in auth_url and f"state={state}" in auth_url
    assert idp.counters()["token"]["authorization_code"] == 1


def test_a_failing_redirect_capturer_ends_the_login_with_its_reason(idp: Idp) -> None:
    def capture(auth_url: str, expected_state: str) -> str:
        raise RuntimeError("the person closed the window")

    auth = dhis2w_auth(idp, redirect_capturer=capture)
    with pytest.raises(latchkey.LatchkeyError) as caught:
        asyncio.run(auth.refresh_if_needed())  # no token: the login, which the capturer ends
    assert "the person closed the window" in str(caught.value)
    assert idp.counters()["token"].get("authorization_code", 0) == 0


def test_open_browser_false_shows_the_url_and_waits_for_the_redirect(
    idp: Idp, capfd: pytest.CaptureFixture[str]
) -> None:
    auth = dhis2w_auth(idp, open_browser=False)
    done: list[latchkey.TokenSet] = []
    login = threading.Thread(target=lambda: done.append(auth.login()))
    login.start()
    url = ""
    for _ in range(200):
        err = capfd.readouterr().err
        url = next((w for w in err.split() if w.startswith(idp.issuer + "/auth?")), "")
        if url:
            break
        threading.Event().wait(0.05)
    assert url, "the authorization URL was not shown on stderr"
    person = Person()
    person.follow(person.log_in_and_consent(url, idp.issuer))
    login.join(30)
    assert done and done[0].refresh_token is not None
