"""`fake_dhis2`: a DHIS2 instance where the identity provider fixture cannot play one: its
authorization server switched off, and its token endpoint's trailing-slash redirect. The
same behaviour, and the same sources, as the Rust test kit's fake_dhis2
(crates/latchkey-testkit/src/fake_dhis2.rs):

- The DHIS2 documentation on its OAuth2 / OIDC configuration
  (https://github.com/dhis2/dhis2-docs/blob/master/src/sysadmin/reference/oauth.md,
  published at docs.dhis2.org under "OpenID Connect (OIDC) configuration").
- Inferred from the seeds (the dhis2w client's notes on DHIS2 2.40-2.42), not in the
  DHIS2 documentation: the authorization server is the `dhis.conf` key
  `oauth2.server.enabled`, off by default; off, `GET /.well-known/openid-configuration`
  answers 404 and `POST /oauth2/token` answers DHIS2's generic HTML 401 with a Basic
  challenge; on, `POST /oauth2/token` answers 301 to `/oauth2/token/` (fixed in 2.42.6).
- The registered client authenticates with `client_secret_post` only (a Basic header is
  refused), so a test sees which method a request used.
"""

from __future__ import annotations

from .fake_server import Answer, FakeServer, Seen, json_answer

CLIENT = ("dhis2-client", "dhis2-client-secret")
CODE = "fake-dhis2-code"
ACCESS_TOKEN = "fake-dhis2-access-token"


class FakeDhis2(FakeServer):
    def __init__(self, *, oauth_enabled: bool = True, token_redirect: int | None = 301) -> None:
        super().__init__()
        self.oauth_enabled = oauth_enabled
        self.token_redirect = token_redirect

    def answer(self, seen: Seen) -> Answer:
        path = seen.path.split("?")[0]
        if seen.method == "GET" and path == "/.well-known/openid-configuration":
            if not self.oauth_enabled:
                return Answer(404, b"<html>Not Found</html>", {"Content-Type": "text/html"})
            base = self.base_url
            return json_answer(
                200,
                {
                    "issuer": base,
                    "authorization_endpoint": f"{base}/oauth2/authorize",
                    "token_endpoint": f"{base}/oauth2/token",
                    "jwks_uri": f"{base}/oauth2/jwks",
                    "scopes_supported": ["ALL"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                },
            )
        if seen.method == "POST" and path in ("/oauth2/token", "/oauth2/token/"):
            if not self.oauth_enabled:
                return Answer(
                    401,
                    b"<html><body>HTTP Status 401 - Unauthorized</body></html>",
                    {"Content-Type": "text/html", "WWW-Authenticate": 'Basic realm="DHIS2"'},
                )
            if path == "/oauth2/token" and self.token_redirect is not None:
                return Answer(self.token_redirect, headers={"Location": "/oauth2/token/"})
            return self._token(seen)
        return Answer(404, b"<html>Not Found</html>", {"Content-Type": "text/html"})

    @staticmethod
    def _token(seen: Seen) -> Answer:
        form = seen.form
        if "authorization" in seen.headers or (form.get("client_id"), form.get("client_secret")) != CLIENT:
            return json_answer(401, {"error": "invalid_client"})
        if form.get("grant_type") != "authorization_code" or form.get("code") != CODE:
            return json_answer(400, {"error": "invalid_grant"})
        return json_answer(200, {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300, "scope": "ALL"})
