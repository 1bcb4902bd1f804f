"""pywry's provider classes (``OAuthProvider``, ``GenericOIDCProvider``, ``GoogleProvider``,
``GitHubProvider``, ``MicrosoftProvider``) as endpoint holders over the core's presets and
discovery. Pass one to ``SessionManager``/``TokenManager`` in place of a grant: it becomes a
browser login (authorization code + PKCE) against its endpoints."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ._core import AuthorizationCodeAuth, OidcProvider, _revoke_future


class OAuthProvider:
    """A client registration and its endpoints (pywry's ``OAuthProvider``)."""

    preset: str | None = None
    """The core's preset whose quirks a manager built from this provider applies (Google's
    offline-access parameters, GitHub's revocation API); ``None``: plain OAuth 2."""

    def __init__(
        self,
        client_id: str,
        client_secret: str = "",
        scopes: list[str] | None = None,
        authorize_url: str = "",
        token_url: str = "",
        userinfo_url: str = "",
        revocation_url: str = "",
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = list(scopes or [])
        self.authorize_url = authorize_url
        self.token_url = token_url
        self.userinfo_url = userinfo_url
        self.revocation_url = revocation_url
        self._oidc: OidcProvider | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.client_id!r}, client_secret=...)"

    def _adopt(self, oidc: OidcProvider) -> None:
        """Fills the endpoints not given explicitly from discovery or a preset."""
        self._oidc = oidc
        self.authorize_url = self.authorize_url or (oidc.authorization_url or "")
        self.token_url = self.token_url or oidc.token_url
        self.userinfo_url = self.userinfo_url or (oidc.userinfo_url or "")
        self.revocation_url = self.revocation_url or (oidc.revocation_url or "")

    def grant(
        self,
        *,
        open_browser: bool = True,
        redirect_uri: str | None = None,
        on_url: Callable[[str], object] | None = None,
        timeout: float = 300.0,
    ) -> AuthorizationCodeAuth:
        """The browser login against this provider."""
        return AuthorizationCodeAuth(
            self.authorize_url,
            client_id=self.client_id,
            scopes=self.scopes,
            redirect_uri=redirect_uri,
            open_browser=open_browser,
            timeout=timeout,
            on_url=on_url,
        )

    def manager_options(self) -> dict[str, Any]:
        """The manager keywords this provider supplies."""
        options: dict[str, Any] = {"token_url": self.token_url, "client_id": self.client_id}
        if self.client_secret:
            options["client_secret"] = self.client_secret
        if self.revocation_url:
            options["revocation_url"] = self.revocation_url
        if self.preset is not None:
            options["preset"] = self.preset
        return options

    def _require_oidc(self) -> OidcProvider:
        if self._oidc is None:
            raise NotImplementedError(f"{type(self).__name__} is not an OpenID provider")
        return self._oidc

    @property
    def oidc(self) -> OidcProvider:
        """The OpenID provider behind this one, whose ``validate_id_token`` and ``userinfo``
        are the sync forms of the methods below; ``NotImplementedError`` for GitHub."""
        return self._require_oidc()

    # pywry's provider methods are coroutines; these keep that shape.
    async def validate_id_token(self, id_token: str, nonce: str | None = None) -> dict[str, Any]:
        """The ID token's claims, checked against the provider's keys (signature, issuer,
        audience = this client, expiry, and ``nonce`` when given)."""
        return await self._require_oidc().avalidate_id_token(id_token, self.client_id, nonce)

    async def get_userinfo(self, access_token: str) -> dict[str, Any]:
        """The userinfo claims."""
        return await self._require_oidc().auserinfo(access_token)

    async def revoke_token(self, token: str, token_type_hint: str = "access_token") -> None:
        """Revokes ``token`` at ``revocation_url`` (RFC 7009; GitHub's own API for
        ``GitHubProvider``), authenticated as this client. Does nothing when the provider
        has no revocation endpoint, as pywry's does. A refusal raises."""
        if not self.revocation_url:
            return
        await _revoke_future(
            asyncio.get_running_loop(),
            token,
            token_url=self.token_url,
            revocation_url=self.revocation_url,
            client_id=self.client_id,
            client_secret=self.client_secret or None,
            preset=self.preset,
            token_type_hint=token_type_hint,
        )

    async def close(self) -> None:
        """Nothing to close: latchkey's HTTP connections belong to the process, not to a
        provider (pywry's ``close`` releases the provider's own client)."""


class GenericOIDCProvider(OAuthProvider):
    """Any OpenID provider, its endpoints discovered from ``issuer_url``."""

    def __init__(
        self,
        client_id: str,
        client_secret: str = "",
        issuer_url: str = "",
        scopes: list[str] | None = None,
        authorize_url: str = "",
        token_url: str = "",
        userinfo_url: str = "",
        revocation_url: str = "",
    ) -> None:
        super().__init__(
            client_id, client_secret, scopes or ["openid", "profile", "email"],
            authorize_url, token_url, userinfo_url, revocation_url,
        )
        self.issuer_url = issuer_url
        if issuer_url:
            self._adopt(OidcProvider.discover(issuer_url))


class GoogleProvider(GenericOIDCProvider):
    """Google (the core's ``google`` preset: a manager asks for offline access and consent,
    so that Google issues a refresh token). ``issuer_url=`` points it at another server
    speaking Google's protocol (a proxy, a test server); its endpoints are discovered there."""

    preset = "google"

    def __init__(
        self,
        client_id: str,
        client_secret: str = "",
        scopes: list[str] | None = None,
        *,
        issuer_url: str = "https://accounts.google.com",
    ) -> None:
        OAuthProvider.__init__(self, client_id, client_secret, scopes or ["openid", "email", "profile"])
        self.issuer_url = issuer_url
        if issuer_url.rstrip("/") == "https://accounts.google.com":
            self._adopt(OidcProvider.from_preset("google"))
        else:
            self._adopt(OidcProvider.discover(issuer_url))


class MicrosoftProvider(GenericOIDCProvider):
    """Microsoft Entra ID (the core's ``microsoft`` preset)."""

    preset = "microsoft"

    def __init__(
        self, client_id: str, client_secret: str = "", tenant_id: str = "common", scopes: list[str] | None = None
    ) -> None:
        OAuthProvider.__init__(self, client_id, client_secret, scopes or ["openid", "email", "profile", "offline_access"])
        self._adopt(OidcProvider.from_preset("microsoft", tenant=tenant_id))
        self.issuer_url = self._require_oidc().issuer


class GitHubProvider(OAuthProvider):
    """GitHub (the core's ``github`` preset; OAuth 2, not OpenID). A manager's ``logout()``
    revokes through GitHub's own API (``DELETE /applications/{client_id}/token`` with the
    client's Basic credentials), which needs the client secret."""

    preset = "github"

    def __init__(self, client_id: str, client_secret: str = "", scopes: list[str] | None = None) -> None:
        super().__init__(client_id, client_secret, scopes or ["read:user"])
        oidc = OidcProvider.from_preset("github", client_id=client_id)
        self._adopt(oidc)
        self._oidc = None  # endpoints only: GitHub issues no ID tokens
