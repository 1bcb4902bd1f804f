"""The shared stores from Python: SQLite and Redis, each shared by two managers (as two
processes would) with one token request between them."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import latchkey

from .conftest import Idp


def pair(idp: Idp, store: object) -> tuple[latchkey.TokenManager, latchkey.TokenManager]:
    def one() -> latchkey.TokenManager:
        return latchkey.TokenManager(
            latchkey.ClientCredentialsAuth("svc-post", "post-secret-123"),
            token_url=idp.token_url,
            client_auth="post",
            key="shared",
            store=store,  # type: ignore[arg-type]
        )

    return one(), one()


def test_sqlite_store_is_shared(idp: Idp, tmp_path: Path) -> None:
    first, second = pair(idp, latchkey.SqliteTokenStore(tmp_path / "tokens.sqlite"))
    assert first.header() == second.header()
    assert idp.token_requests() == 1
    assert (tmp_path / "tokens.sqlite").stat().st_mode & 0o077 == 0


@pytest.fixture
def redis_url() -> Iterator[str]:
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server (scripts/test.sh installs it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(timeout=10)


def test_redis_store_is_shared(idp: Idp, redis_url: str) -> None:
    store = latchkey.RedisTokenStore(redis_url, prefix="py-test")
    assert redis_url not in repr(store)
    first, second = pair(idp, store)
    assert first.header() == second.header()
    assert idp.token_requests() == 1
