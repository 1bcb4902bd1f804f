"""Every unattended grant against the real identity provider, and the errors of each group."""

from __future__ import annotations

import asyncio
import socket

import pytest

import latchkey
from latchkey import errors

from .conftest import Idp


def test_client_credentials_basic_with_a_secret_that_needs_encoding(idp: Idp) -> None:
    manager = latchkey.TokenManager(
        latchkey.ClientCredentialsAuth("svc-basic", "s3cr:t+/ %&=é~", scopes=["api:read"]),
        token_url=idp.token_url,
    )
    header = manager.header()
    assert header.startswith("Bearer ")
    assert manager.header() == header
    assert idp.counters()["token"]["client_credentials"] == 1
    assert manager.token().scopes == ["api:read"]


def test_client_credentials_post(idp: Idp) -> None:
    manager = latchkey.TokenManager(
        latchkey.ClientCredentialsAuth(),
        token_url=idp.token_url,
        client_id="svc-post",
        client_secret="post-secret-123",
        client_auth="post",
    )
    assert manager.header().startswith("Bearer ")
    assert idp.counters()["by_client"]["svc-post"] == 1


def test_password_grant_gets_a_refresh_token(idp: Idp) -> None:
    manager = latchkey.TokenManager(
        latchkey.PasswordAuth("alice", "alice-password", client_id="pw-client"),
        token_url=idp.token_url,
    )
    tokens = manager.token()
    assert tokens.refresh_token is not None and tokens.refresh_valid()
    assert tokens.access_valid() and not tokens.is_expired
    assert tokens.authorization_header == manager.header()


def test_password_grant_with_totp(idp: Idp) -> None:
    code = idp.admin("GET", "/totp/carol")["code"]
    manager = latchkey.TokenManager(
        latchkey.PasswordAuth("carol", "carol-password", totp=code, client_id="pw-client"),
        token_url=idp.token_url,
    )
    # A one-time code means a person is there: it is used by login(), never by a refresh.
    with pytest.raises(errors.LoginRequiredError):
        manager.header()
    assert manager.login().refresh_token is not None
    assert manager.header().startswith("Bearer ")
    assert idp.counters()["token"]["password"] == 1


def test_refresh_token_grant_starts_from_a_given_refresh_token(idp: Idp) -> None:
    first = latchkey.TokenManager(
        latchkey.PasswordAuth("alice", "alice-password", client_id="pw-client"),
        token_url=idp.token_url,
    ).token()
    assert first.refresh_token is not None
    manager = latchkey.TokenManager(
        latchkey.RefreshTokenAuth(first.refresh_token, client_id="pw-client"),
        token_url=idp.token_url,
    )
    assert manager.header() != first.authorization_header
    assert idp.counters()["token"]["refresh_token"] == 1


def test_invalidate_obtains_a_new_token_once_per_rejected_header(idp: Idp) -> None:
    manager = latchkey.TokenManager(
        latchkey.ClientCredentialsAuth("svc-post", "post-secret-123"),
        token_url=idp.token_url,
        client_auth="post",
    )
    old = manager.header()
    manager.invalidate(old)
    new = manager.header()
    assert new != old
    manager.invalidate(old)  # a late 401 for the replaced token: nothing to do
    assert manager.header() == new
    assert idp.token_requests() == 2


def test_async_twins(idp: Idp) -> None:
    manager = latchkey.TokenManager(
        latchkey.PasswordAuth("alice", "alice-password", client_id="pw-client"),
        token_url=idp.token_url,
    )

    async def run() -> None:
        header = await manager.aheader()
        assert header.startswith("Bearer ")
        assert await manager.aheaders() == {"Authorization": header}
        await manager.arefresh_if_needed()
        await manager.ainvalidate(header)
        assert await manager.aheader() != header
        assert (await manager.atoken()).access_valid()
        assert (await manager.alogin()).refresh_token is not None

    asyncio.run(run())
    assert idp.counters()["token"]["password"] == 2
    assert idp.counters()["token"]["refresh_token"] == 1


def test_wrong_secret_is_a_provider_error_with_its_hint_as_a_note(idp: Idp) -> None:
    manager = latchkey.TokenManager(
        latchkey.ClientCredentialsAuth("svc-post", "wrong"),
        token_url=idp.token_url,
        client_auth="post",
    )
    with pytest.raises(errors.ProviderError) as caught:
        manager.header()
    err = caught.value
    assert isinstance(err, errors.IdentityProviderError) and err.exit_code == 4
    assert err.error == "invalid_client" and err.status == 401
    assert err.hint and f"hint: {err.hint}" in err.__notes__
    assert "wrong" not in str(err)
    # The seeds' names catch it too.
    assert isinstance(err, errors.TokenRefreshError) and isinstance(err, errors.AuthError)


def test_async_errors_are_the_same_classes(idp: Idp) -> None:
    manager = latchkey.TokenManager(
        latchkey.PasswordAuth("alice", "not-her-password", client_id="pw-client"),
        token_url=idp.token_url,
    )
    with pytest.raises(errors.ProviderError) as caught:
        asyncio.run(manager.aheader())
    assert caught.value.error == "invalid_grant"


def test_unreachable_provider_is_a_network_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    manager = latchkey.TokenManager(
        latchkey.ClientCredentialsAuth("svc", "secret"),
        token_url=f"http://127.0.0.1:{port}/token",
    )
    with pytest.raises(errors.NetworkError) as caught:
        manager.header()
    assert isinstance(caught.value, ConnectionError) and caught.value.exit_code == 5
    assert caught.value.retryable


def test_a_grant_that_needs_a_person_is_login_required(idp: Idp) -> None:
    manager = latchkey.TokenManager(
        latchkey.DeviceCodeAuth(idp.issuer + "/device/auth", client_id="native-app"),
        token_url=idp.token_url,
    )
    with pytest.raises(errors.LoginRequiredError) as caught:
        manager.header()
    assert caught.value.exit_code == 3 and caught.value.hint
    assert "TokenManager::login" in caught.value.hint or "login" in caught.value.hint
    assert isinstance(caught.value, errors.ReauthRequiredError)


def test_bad_configuration_is_a_config_error() -> None:
    with pytest.raises(errors.ConfigError) as caught:
        latchkey.TokenManager(latchkey.ClientCredentialsAuth(), token_url="https://idp.example.org/token")
    assert "client_id" in str(caught.value) and isinstance(caught.value, ValueError)
    with pytest.raises(errors.ConfigError):
        latchkey.TokenManager(
            latchkey.ClientCredentialsAuth("a", "b"), token_url="not a url"
        )


def test_store_error_for_an_unusable_directory(idp: Idp, tmp_path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    manager = latchkey.TokenManager(
        latchkey.ClientCredentialsAuth("svc-post", "post-secret-123"),
        token_url=idp.token_url,
        client_auth="post",
        store=latchkey.FileTokenStore(blocker / "tokens"),
    )
    with pytest.raises(errors.StoreError) as caught:
        manager.header()
    assert caught.value.exit_code == 6
