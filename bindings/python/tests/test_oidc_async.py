"""The async twins of ``OidcProvider``'s network calls (``auserinfo``,
``avalidate_id_token``) against the real IdP, from asyncio tasks."""

from __future__ import annotations

import asyncio

import pytest

import latchkey
from latchkey import errors

from .conftest import Idp


def test_async_userinfo_and_id_token_validation(idp: Idp) -> None:
    provider = latchkey.OidcProvider.discover(idp.issuer)
    manager = latchkey.TokenManager(
        latchkey.PasswordAuth("alice", "alice-password", client_id="pw-client", scopes=["openid", "email"]),
        token_url=provider.token_url,
    )
    tokens = manager.token()
    assert tokens.id_token is not None
    id_token = tokens.id_token

    async def run() -> None:
        claims = await provider.avalidate_id_token(id_token, "pw-client")
        assert claims["sub"] == "alice" and claims["iss"] == idp.issuer
        # Several at once on one loop: each settles its own future.
        infos = await asyncio.gather(
            *(provider.auserinfo(tokens.access_token, expected_sub="alice") for _ in range(5))
        )
        assert [i["email"] for i in infos] == ["alice@example.org"] * 5
        with pytest.raises(errors.IdTokenError):
            await provider.avalidate_id_token(id_token, "another-client")
        with pytest.raises(errors.LatchkeyError):
            await provider.auserinfo(tokens.access_token, expected_sub="bob")

    asyncio.run(run())


def test_async_twins_need_a_running_loop(idp: Idp) -> None:
    provider = latchkey.OidcProvider.discover(idp.issuer)
    with pytest.raises(RuntimeError):
        provider.auserinfo("token")


def test_pywry_provider_revokes_a_token_by_rfc_7009(idp: Idp) -> None:
    provider = latchkey.GenericOIDCProvider(client_id="pw-client", issuer_url=idp.issuer)
    assert provider.revocation_url
    manager = latchkey.TokenManager(
        latchkey.PasswordAuth("alice", "alice-password", client_id="pw-client", scopes=["openid", "email"]),
        token_url=provider.token_url,
    )
    access_token = manager.token().access_token

    async def run() -> None:
        assert (await provider.get_userinfo(access_token))["sub"] == "alice"
        await provider.revoke_token(access_token)
        with pytest.raises(errors.LatchkeyError):
            await provider.get_userinfo(access_token)  # the provider no longer knows it
        # No endpoint, nothing sent (pywry's behaviour).
        bare = latchkey.OAuthProvider("pw-client", token_url=provider.token_url)
        await bare.revoke_token(access_token)

    asyncio.run(run())
    assert idp.counters()["revocation"] == 1
