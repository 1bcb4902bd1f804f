"""OpenID Connect from Python: discovery, a preset, ID token validation, userinfo, and
revocation at logout."""

from __future__ import annotations

import pytest

import latchkey
from latchkey import errors

from .conftest import Idp


def test_discovery_id_token_and_userinfo(idp: Idp) -> None:
    provider = latchkey.OidcProvider.discover(idp.issuer)
    assert provider.token_url == idp.token_url and provider.revocation_url
    manager = latchkey.TokenManager(
        latchkey.PasswordAuth("alice", "alice-password", client_id="pw-client", scopes=["openid", "email"]),
        token_url=provider.token_url,
        revocation_url=provider.revocation_url,
    )
    tokens = manager.token()
    assert tokens.id_token is not None
    claims = provider.validate_id_token(tokens.id_token, "pw-client")
    assert claims["sub"] == "alice" and claims["iss"] == idp.issuer
    info = provider.userinfo(tokens.access_token, expected_sub="alice")
    assert info["email"] == "alice@example.org"
    with pytest.raises(errors.IdTokenError):
        provider.validate_id_token(tokens.id_token, "another-client")
    manager.logout()  # revokes at the provider
    assert idp.counters()["revocation"] >= 1


def test_generic_oidc_preset_discovers_its_issuer(idp: Idp) -> None:
    assert "google" in latchkey.OidcProvider.preset_names()
    provider = latchkey.OidcProvider.from_preset("oidc", issuer=idp.issuer)
    assert provider.token_url == idp.token_url
    with pytest.raises(errors.ConfigError):
        latchkey.OidcProvider.from_preset("no-such-provider")
