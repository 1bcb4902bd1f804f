"""`fake_github`: GitHub's OAuth app endpoints, which the fixture (an OpenID provider
speaking RFC 7009) cannot play. Modelled on GitHub's documentation, as the Rust fakes are
(crates/latchkey-testkit/src/fakes/fake_github.rs and
crates/latchkey/tests/it/support/fake_github.rs):

- The web flow
  (https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps):
  `GET /login/oauth/authorize` sends the person back to `redirect_uri` with `code` and
  `state`; `POST /login/oauth/access_token` takes `client_id` and `client_secret` in the
  form and answers JSON when the request says `Accept: application/json`, with
  `token_type=bearer` and the granted scopes separated by commas.
- "Delete an app token"
  (https://docs.github.com/en/rest/apps/oauth-applications#delete-an-app-token):
  `DELETE /applications/{client_id}/token`, HTTP Basic `client_id:client_secret`, JSON body
  `{"access_token": "..."}`, `204 No Content` on success, `422 Validation Failed` for a
  token it does not know, `404 Not Found` for unknown client credentials.
"""

from __future__ import annotations

import base64
import json
import urllib.parse

from .fake_server import Answer, FakeServer, Seen, json_answer

CLIENT = ("Iv1.fakegithubapp", "fake-github-secret")
CODE = "fake-github-code"
ACCESS_TOKEN = "gho_fakegithubaccesstoken"
DOCS = "https://docs.github.com/rest/apps/oauth-applications#delete-an-app-token"


class FakeGitHub(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.live = {ACCESS_TOKEN}

    def answer(self, seen: Seen) -> Answer:
        path, _, query = seen.path.partition("?")
        if seen.method == "GET" and path == "/login/oauth/authorize":
            q = dict(urllib.parse.parse_qsl(query))
            back = q["redirect_uri"] + "?" + urllib.parse.urlencode({"code": CODE, "state": q["state"]})
            return Answer(302, headers={"Location": back})
        if seen.method == "POST" and path == "/login/oauth/access_token":
            form = seen.form
            if (form.get("client_id"), form.get("client_secret")) != CLIENT or form.get("code") != CODE:
                # GitHub answers its errors with HTTP 200.
                return json_answer(200, {"error": "bad_verification_code"})
            return json_answer(200, {"access_token": ACCESS_TOKEN, "token_type": "bearer", "scope": "read:user"})
        if seen.method == "DELETE" and path == f"/applications/{CLIENT[0]}/token":
            if self.basic(seen) != f"{CLIENT[0]}:{CLIENT[1]}":
                return json_answer(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})
            token = json.loads(seen.body or b"{}").get("access_token")
            if token not in self.live:
                return json_answer(422, {"message": "Validation Failed", "documentation_url": DOCS, "status": "422"})
            self.live.discard(token)
            return Answer(204)
        return json_answer(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})

    @staticmethod
    def basic(seen: Seen) -> str | None:
        value = seen.headers.get("authorization", "")
        if not value.startswith("Basic "):
            return None
        return base64.b64decode(value[6:]).decode()
