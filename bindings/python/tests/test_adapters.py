"""The httpx and requests adapters against a local API that answers 401 once per token
(the first token it sees is "revoked"), and always 401 with ``insufficient_scope`` on /scope."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import requests

import latchkey
import latchkey.httpx
import latchkey.requests

from .conftest import Idp


class Api:
    def __init__(self) -> None:
        self.revoked: str | None = None
        self.seen: list[tuple[str, str | None, bytes]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.answer()

            def do_POST(self) -> None:
                self.answer()

            def answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                auth = self.headers.get("authorization")
                api.seen.append((self.path, auth, body))
                if self.path.startswith("/scope"):
                    return self.reply(401, 'Bearer error="insufficient_scope", scope="api:write"')
                if api.revoked is None:
                    api.revoked = auth
                if auth is None or auth == api.revoked:
                    return self.reply(401, 'Bearer error="invalid_token"')
                self.reply(200, None)

            def reply(self, status: int, challenge: str | None) -> None:
                self.send_response(status)
                if challenge:
                    self.send_header("WWW-Authenticate", challenge)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api()
    yield server
    server.server.shutdown()


@pytest.fixture
def manager(idp: Idp) -> latchkey.TokenManager:
    return latchkey.TokenManager(
        latchkey.ClientCredentialsAuth("svc-post", "post-secret-123"),
        token_url=idp.token_url,
        client_auth="post",
    )


def test_httpx_sync_retries_once_with_a_new_token(idp: Idp, api: Api, manager: latchkey.TokenManager) -> None:
    with httpx.Client(auth=latchkey.httpx.Auth(manager)) as client:
        response = client.post(api.url + "/data", content=b"payload")
    assert response.status_code == 200
    assert [s[2] for s in api.seen] == [b"payload", b"payload"]
    assert api.seen[0][1] != api.seen[1][1]
    assert idp.token_requests() == 2


def test_httpx_async_retries_once_with_a_new_token(idp: Idp, api: Api, manager: latchkey.TokenManager) -> None:
    async def run() -> httpx.Response:
        async with httpx.AsyncClient(auth=latchkey.httpx.Auth(manager)) as client:
            return await client.get(api.url + "/data")

    assert asyncio.run(run()).status_code == 200
    assert len(api.seen) == 2 and idp.token_requests() == 2


def test_httpx_does_not_retry_a_streamed_body(idp: Idp, api: Api, manager: latchkey.TokenManager) -> None:
    def body() -> Iterator[bytes]:
        yield b"chunk"

    with httpx.Client(auth=latchkey.httpx.Auth(manager)) as client:
        response = client.post(api.url + "/data", content=body())
    assert response.status_code == 401 and len(api.seen) == 1
    assert idp.token_requests() == 1


def test_httpx_does_not_retry_insufficient_scope(idp: Idp, api: Api, manager: latchkey.TokenManager) -> None:
    with httpx.Client(auth=latchkey.httpx.Auth(manager)) as client:
        response = client.get(api.url + "/scope")
    assert response.status_code == 401 and len(api.seen) == 1
    assert idp.token_requests() == 1


def test_httpx_static_credentials_are_not_retried(api: Api) -> None:
    with httpx.Client(auth=latchkey.httpx.Auth(latchkey.BearerAuth("fixed"))) as client:
        response = client.get(api.url + "/data")
    assert response.status_code == 401 and len(api.seen) == 1


def test_requests_retries_once_with_a_new_token(idp: Idp, api: Api, manager: latchkey.TokenManager) -> None:
    with requests.Session() as session:
        session.auth = latchkey.requests.Auth(manager)
        response = session.post(api.url + "/data", data=b"payload")
    assert response.status_code == 200 and len(response.history) == 1
    assert [s[2] for s in api.seen] == [b"payload", b"payload"]
    assert idp.token_requests() == 2


def test_requests_does_not_retry_a_generator_body(idp: Idp, api: Api, manager: latchkey.TokenManager) -> None:
    def body() -> Iterator[bytes]:
        yield b"chunk"

    response = requests.post(api.url + "/data", data=body(), auth=latchkey.requests.Auth(manager))
    assert response.status_code == 401 and len(api.seen) == 1
    assert idp.token_requests() == 1


def test_requests_does_not_retry_insufficient_scope(idp: Idp, api: Api, manager: latchkey.TokenManager) -> None:
    response = requests.get(api.url + "/scope", auth=latchkey.requests.Auth(manager))
    assert response.status_code == 401 and len(api.seen) == 1
    assert idp.token_requests() == 1


def test_query_parameter_credentials(api: Api) -> None:
    auth = latchkey.requests.Auth(latchkey.QueryParamAuth({"api_key": "k"}))
    requests.get(api.url + "/data", auth=auth)
    assert api.seen[0][0] == "/data?api_key=k"


def test_httpx2_adapter_when_the_fork_is_installed(idp: Idp, api: Api, manager: latchkey.TokenManager) -> None:
    httpx2 = pytest.importorskip("httpx2")
    import latchkey.httpx2

    with httpx2.Client(auth=latchkey.httpx2.Auth(manager)) as client:
        response = client.get(api.url + "/data")
    assert response.status_code == 200 and len(api.seen) == 2
