"""What a Python user relies on besides tokens: no secret in repr() or logs, static
credentials, the seeds' names."""

from __future__ import annotations

import asyncio

import pytest

import latchkey

from .conftest import Idp


def test_no_secret_in_repr(idp: Idp) -> None:
    secret = "post-secret-123"
    grant = latchkey.ClientCredentialsAuth("svc-post", secret)
    manager = latchkey.TokenManager(grant, token_url=idp.token_url, client_auth="post")
    tokens = manager.token()
    pw = latchkey.PasswordAuth("alice", "alice-password", totp="123456")
    for obj in (grant, manager, tokens, pw, latchkey.BasicAuth("u", "hunter2"), latchkey.PatAuth("d2p_abc")):
        text = repr(obj)
        for leaked in (secret, tokens.access_token, "alice-password", "123456", "hunter2", "d2p_abc"):
            assert leaked not in text, f"{leaked!r} in {text}"
    assert "[REDACTED]" in repr(tokens)
    # Python's notation, not Rust's: a number (or None) for the expiry, a Python list.
    assert "Some(" not in repr(tokens) and "expires_at=None" not in repr(tokens)
    assert f"expires_at={tokens.expires_at}" in repr(tokens)
    assert f"scopes={tokens.scopes!r}" in repr(tokens)


def test_logging_receives_latchkey_logs_without_secrets(idp: Idp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(1)  # every level, trace included (pyo3-log maps it below DEBUG)
    latchkey.reset_log_cache()
    manager = latchkey.TokenManager(
        latchkey.PasswordAuth("alice", "alice-password", client_id="pw-client"),
        token_url=idp.token_url,
    )
    tokens = manager.token()
    manager.invalidate()
    latchkey_records = [r for r in caplog.records if r.name.startswith("latchkey")]
    assert latchkey_records, "latchkey's logs reach logging"
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("alice-password", tokens.access_token, tokens.refresh_token or "-"):
        assert secret not in text


def test_static_credentials() -> None:
    basic = latchkey.BasicAuth("admin", "district")
    assert basic.header() == "Basic YWRtaW46ZGlzdHJpY3Q="
    assert latchkey.PatAuth("d2p_x").header() == "ApiToken d2p_x"
    assert latchkey.ApiToken is latchkey.PatAuth
    assert latchkey.BearerAuth("t").headers() == {"authorization": "Bearer t"}
    assert latchkey.HeaderAuth({"X-Api-Key": "k"}).headers() == {"x-api-key": "k"}
    query = latchkey.QueryParamAuth({"api_key": "k"})
    assert query.query_params() == {"api_key": "k"} and query.header() is None
    assert asyncio.run(basic.aheader()) == basic.header()
    assert isinstance(basic, latchkey.AuthProvider)


def test_manager_is_an_auth_provider(idp: Idp) -> None:
    manager = latchkey.TokenManager(
        latchkey.ClientCredentialsAuth("svc-post", "post-secret-123"),
        token_url=idp.token_url,
        client_auth="post",
        expiry_skew=30,  # cdse's keyword
    )
    assert isinstance(manager, latchkey.AuthProvider)
    assert manager.authorization_header() == manager.header()  # cdse's name


def test_fast_path_returns_the_same_str_without_requests(idp: Idp) -> None:
    manager = latchkey.TokenManager(
        latchkey.ClientCredentialsAuth("svc-post", "post-secret-123"),
        token_url=idp.token_url,
        client_auth="post",
    )
    manager.header()
    manager.header()
    first = manager.header()
    assert all(manager.header() is first for _ in range(1000))
    assert manager.cached_header() is first
    assert idp.token_requests() == 1
