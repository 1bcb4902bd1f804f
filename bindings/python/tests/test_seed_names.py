"""The seeds' names over the same objects: dhis2w's route auth schemes, pywry's
SessionManager."""

from __future__ import annotations

import asyncio

import pytest

import latchkey
from latchkey import errors

from .conftest import Idp


def test_route_schemes_become_credentials(idp: Idp) -> None:
    basic = latchkey.auth_from_scheme({"type": "http-basic", "username": "admin", "password": "district"})
    assert basic.header() == "Basic YWRtaW46ZGlzdHJpY3Q="
    token = latchkey.auth_from_scheme('{"type": "api-token", "token": "d2p_x"}')
    assert token.header() == "ApiToken d2p_x"
    query = latchkey.auth_from_scheme({"type": "api-query-params", "queryParams": {"key": "v"}})
    assert query.query_params() == {"key": "v"}
    oauth = latchkey.auth_from_scheme(
        {
            "type": "oauth2-client-credentials",
            "clientId": "svc-basic",
            "clientSecret": "s3cr:t+/ %&=é~",
            "tokenUri": idp.token_url,
        }
    )
    assert isinstance(oauth, latchkey.TokenManager)
    assert oauth.header().startswith("Bearer ")
    assert idp.token_requests() == 1


def test_a_bad_route_scheme_is_a_config_error() -> None:
    with pytest.raises(errors.ConfigError) as caught:
        latchkey.auth_from_scheme({"type": "kerberos"})
    assert "kerberos" in str(caught.value) and caught.value.hint


def test_pywry_session_manager(idp: Idp) -> None:
    calls: list[str] = []
    session = latchkey.SessionManager(
        latchkey.PasswordAuth("alice", "alice-password", client_id="pw-client"),
        token_url=idp.token_url,
        token_store=latchkey.MemoryTokenStore(),
        session_key="alice",
        refresh_buffer_seconds=30,
        on_reauth_required=lambda: calls.append("reauth"),
    )

    async def run() -> str:
        await session.initialize()
        return await session.get_access_token()

    access = asyncio.run(run())
    assert session.header() == "Bearer " + access and session.key == "alice"


def test_on_reauth_required_is_called_when_the_refresh_token_is_refused(idp: Idp) -> None:
    calls: list[str] = []
    session = latchkey.SessionManager(
        latchkey.RefreshTokenAuth("not-a-refresh-token", client_id="pw-client"),
        token_url=idp.token_url,
        on_reauth_required=lambda: calls.append("reauth"),
    )
    with pytest.raises(errors.LoginRequiredError):
        session.header()
    assert calls == ["reauth"]


def test_background_refresh_renews_before_anyone_asks(idp: Idp) -> None:
    import time

    idp.admin("POST", "/ttl", {"ClientCredentials": 4})  # due for refresh 2 s after issue
    try:
        session = latchkey.SessionManager(
            latchkey.ClientCredentialsAuth("svc-post", "post-secret-123"),
            token_url=idp.token_url,
            client_auth="post",
            background_refresh=True,
        )
        first = session.header()
        deadline = time.monotonic() + 10
        while idp.token_requests() < 2:
            assert time.monotonic() < deadline, "no refresh happened in the background"
            time.sleep(0.1)
        time.sleep(0.2)
        assert session.cached_header() not in (None, first)  # already renewed, nothing to wait for
    finally:
        idp.admin("POST", "/ttl/reset")
