"""The grants that need a person: the device flow and the browser login (authorization code
+ PKCE, loopback receiver), played by a scripted person against the real IdP pages."""

from __future__ import annotations

import asyncio
import threading

import latchkey

from .conftest import Idp
from .person import Person


def test_device_login_then_refresh(idp: Idp) -> None:
    idp.admin("POST", "/device", {"interval": 1})

    def approve(uri: str, code: str, complete: str | None) -> None:
        assert complete is not None
        body = threading.Thread(
            target=lambda: results.append(Person().log_in_and_consent(complete, idp.issuer))
        )
        body.start()

    results: list[str] = []
    manager = latchkey.TokenManager(
        latchkey.DeviceCodeAuth(
            idp.issuer + "/device/auth", client_id="native-app", scopes=["openid", "offline_access"], on_prompt=approve
        ),
        token_url=idp.token_url,
    )
    tokens = manager.login()
    assert tokens.refresh_token is not None and "Sign-in Success" in results[0]
    header = manager.header()
    manager.invalidate(header)  # a refresh, not another login
    assert manager.header() != header
    counters = idp.counters()["token"]
    assert counters["urn:ietf:params:oauth:grant-type:device_code"] >= 1
    assert counters["refresh_token"] == 1


def test_browser_login_async(idp: Idp) -> None:
    seen: list[str] = []

    def browse(url: str) -> None:
        def run() -> None:
            person = Person()
            redirect = person.log_in_and_consent(url, idp.issuer)
            seen.append(person.follow(redirect))  # the loopback receiver's page

        threading.Thread(target=run).start()

    manager = latchkey.TokenManager(
        latchkey.AuthorizationCodeAuth(
            idp.issuer + "/auth",
            client_id="native-app",
            scopes=["openid", "offline_access"],
            open_browser=False,
            on_url=browse,
        ),
        token_url=idp.token_url,
    )
    tokens = asyncio.run(manager.alogin())
    assert tokens.id_token is not None and tokens.refresh_token is not None
    assert manager.header() == tokens.authorization_header
    assert idp.counters()["token"]["authorization_code"] == 1
    assert seen


def test_pywry_generic_oidc_provider_with_a_session_manager(idp: Idp) -> None:
    def browse(url: str) -> None:
        def run() -> None:
            person = Person()
            person.follow(person.log_in_and_consent(url, idp.issuer))

        threading.Thread(target=run).start()

    provider = latchkey.GenericOIDCProvider(
        client_id="native-app", issuer_url=idp.issuer, scopes=["openid", "email", "offline_access"]
    )
    assert provider.token_url == idp.token_url
    session = latchkey.SessionManager(provider, open_browser=False, on_url=browse)

    async def run() -> latchkey.TokenSet:
        return await session.alogin()

    tokens = asyncio.run(run())
    assert tokens.id_token is not None

    async def check() -> None:  # pywry's provider methods are coroutines
        assert (await provider.validate_id_token(tokens.id_token))["sub"] == "alice"
        assert (await provider.get_userinfo(tokens.access_token))["email"] == "alice@example.org"
        await provider.close()

    asyncio.run(check())
    assert provider.oidc.validate_id_token(tokens.id_token, "native-app")["sub"] == "alice"
    asyncio.run(session.logout())  # pywry's async logout: revokes through the discovered endpoint
    assert idp.counters()["revocation"] >= 1


def test_pywry_presets_resolve_their_endpoints() -> None:
    github = latchkey.GitHubProvider("id", "hunter2")  # GitHub's endpoints are fixed: no network
    assert github.token_url.startswith("https://github.com/") and github.authorize_url
    assert "hunter2" not in repr(github)
