"""`preset=` on a manager: the quirks of the core's provider presets, applied to managers
built from pywry's provider classes and dhis2w's `OAuth2Auth` as a CLI profile's
`preset = …` applies them. Google's parameters are seen on the real IdP fixture; GitHub's
revocation API and DHIS2's redirect and switched-off authorization server only on their
documented fakes (fake_github, fake_dhis2), which the fixture cannot play."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import urllib.parse

import pytest

import latchkey

from . import fake_dhis2, fake_github
from .conftest import Idp
from .fake_dhis2 import FakeDhis2
from .fake_github import FakeGitHub
from .person import Person


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dhis2_auth(dhis2: FakeDhis2, capturer: object) -> latchkey.OAuth2Auth:
    return latchkey.OAuth2Auth(
        dhis2.base_url,
        fake_dhis2.CLIENT[0],
        fake_dhis2.CLIENT[1],
        scope="ALL",
        redirect_uri=f"http://127.0.0.1:{free_loopback_port()}/callback",
        token_store=None,
        redirect_capturer=capturer,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("status", [301, 308])
def test_oauth2auth_follows_the_dhis2_token_endpoint_redirect(status: int) -> None:
    with FakeDhis2(token_redirect=status) as dhis2:
        auth = dhis2_auth(dhis2, lambda url, state: fake_dhis2.CODE)
        headers = asyncio.run(auth.headers())
        assert headers == {"Authorization": f"Bearer {fake_dhis2.ACCESS_TOKEN}"}
        posts = [s.path for s in dhis2.seen if s.method == "POST"]
        assert posts == ["/oauth2/token", "/oauth2/token/"]
        # The preset's client authentication: the secret in the body, no Basic header.
        sent = dhis2.requests("POST", "/oauth2/token/")[0]
        assert sent.form["client_secret"] == fake_dhis2.CLIENT[1] and "authorization" not in sent.headers


def test_oauth2auth_stops_before_the_browser_when_dhis2_has_no_authorization_server() -> None:
    captured: list[str] = []

    def capture(url: str, state: str) -> str:
        captured.append(url)
        return fake_dhis2.CODE

    with FakeDhis2(oauth_enabled=False) as dhis2:
        auth = dhis2_auth(dhis2, capture)
        with pytest.raises(latchkey.IdentityProviderError) as info:
            auth.login()
        assert captured == [], "the capturer (the browser) must not be asked"
        assert dhis2.requests("POST", "/oauth2/token") == []
        assert len(dhis2.requests("GET", "/.well-known/openid-configuration")) == 1
    # The preset's server_setup: the first step in the message, all of them in the hint.
    assert "oauth2.server.enabled" in str(info.value)
    hint = info.value.hint or ""
    assert "oidc.jwt.token.authentication.enabled" in hint and "server.base.url" in hint


def test_github_provider_revokes_through_githubs_app_token_api() -> None:
    client_id, secret = fake_github.CLIENT
    provider = latchkey.GitHubProvider(client_id, secret)
    assert provider.preset == "github" and provider.manager_options()["preset"] == "github"
    assert provider.revocation_url == f"https://api.github.com/applications/{client_id}/token"

    def browse(url: str) -> None:
        def run() -> None:
            person = Person()
            _, back, _ = person._open(url)  # GitHub sends the person straight back
            assert back is not None
            person.follow(back)

        threading.Thread(target=run).start()

    with FakeGitHub() as github:
        provider.authorize_url = github.base_url + "/login/oauth/authorize"
        provider.token_url = github.base_url + "/login/oauth/access_token"
        provider.revocation_url = f"{github.base_url}/applications/{client_id}/token"
        manager = latchkey.TokenManager(provider, open_browser=False, on_url=browse)
        assert 'preset="github"' in repr(manager)
        tokens = manager.login()
        assert tokens.access_token == fake_github.ACCESS_TOKEN
        manager.logout()
        deletes = github.requests("DELETE", f"/applications/{client_id}/token")
        assert github.requests("POST", f"/applications/{client_id}/token") == []
        assert github.live == set(), "the token was revoked"
    assert len(deletes) == 1
    assert FakeGitHub.basic(deletes[0]) == f"{client_id}:{secret}"
    assert json.loads(deletes[0].body) == {"access_token": fake_github.ACCESS_TOKEN}


def test_github_provider_revoke_token_uses_githubs_api_and_raises_its_refusal() -> None:
    client_id, secret = fake_github.CLIENT
    provider = latchkey.GitHubProvider(client_id, secret)
    with FakeGitHub() as github:
        provider.token_url = github.base_url + "/login/oauth/access_token"
        provider.revocation_url = f"{github.base_url}/applications/{client_id}/token"

        async def run() -> None:
            await provider.revoke_token(fake_github.ACCESS_TOKEN)
            assert github.live == set()
            # GitHub answers 422 for a token it does not know: the caller hears of it.
            with pytest.raises(latchkey.errors.LatchkeyError):
                await provider.revoke_token(fake_github.ACCESS_TOKEN)

        asyncio.run(run())
        deletes = github.requests("DELETE", f"/applications/{client_id}/token")
    assert len(deletes) == 2
    assert FakeGitHub.basic(deletes[0]) == f"{client_id}:{secret}"


def test_google_provider_asks_for_offline_access_and_consent(idp: Idp) -> None:
    urls: list[str] = []

    def browse(url: str) -> None:
        urls.append(url)

        def run() -> None:
            person = Person()
            person.follow(person.log_in_and_consent(url, idp.issuer))

        threading.Thread(target=run).start()

    # The fixture plays Google's server: its endpoints are discovered there.
    provider = latchkey.GoogleProvider("native-app", scopes=["openid", "email", "offline_access"], issuer_url=idp.issuer)
    assert provider.manager_options()["preset"] == "google"
    manager = latchkey.TokenManager(provider, open_browser=False, on_url=browse)
    tokens = manager.login()
    assert tokens.refresh_token is not None
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(urls[0]).query))
    assert query["access_type"] == "offline" and query["prompt"] == "consent"


def test_a_manager_without_a_preset_sends_no_provider_parameters(idp: Idp) -> None:
    urls: list[str] = []

    def browse(url: str) -> None:
        urls.append(url)
        threading.Thread(target=lambda: Person().follow(Person().log_in_and_consent(url, idp.issuer))).start()

    provider = latchkey.GenericOIDCProvider("native-app", issuer_url=idp.issuer, scopes=["openid"])
    assert "preset" not in provider.manager_options()
    latchkey.TokenManager(provider, open_browser=False, on_url=browse).login()
    assert "access_type" not in urllib.parse.parse_qs(urllib.parse.urlsplit(urls[0]).query)


def test_an_unknown_preset_is_a_configuration_error() -> None:
    with pytest.raises(latchkey.ConfigError) as info:
        latchkey.TokenManager(
            latchkey.ClientCredentialsAuth("id", "secret"),
            token_url="https://idp.example/token",
            preset="gogle",
        )
    message = str(info.value)
    assert "gogle" in message and "github" in message and "dhis2" in message
