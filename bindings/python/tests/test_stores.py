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


KEYRING_CHILD = """
import sys, latchkey
def manager():
    return latchkey.TokenManager(
        latchkey.ClientCredentialsAuth("svc-post", "post-secret-123"),
        token_url=sys.argv[1], client_auth="post", key="shared",
        store=latchkey.KeyringTokenStore("latchkey-py-test", state_dir=sys.argv[2]),
    )
first, second = manager(), manager()
assert first.header() == second.header()
print("ok")
"""


def test_keyring_store_in_a_real_secret_service(idp: Idp, tmp_path: Path) -> None:
    import os
    import sys

    if not (shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")):
        assert not os.environ.get("LATCHKEY_REQUIRE_KEYRING"), "dbus-run-session and gnome-keyring-daemon are required"
        pytest.skip("no dbus-run-session or gnome-keyring-daemon (scripts/test.sh installs them)")
    # GNOME Keyring in a private D-Bus session, unlocked with a throwaway password, as
    # crates/latchkey-testkit/src/keyring.rs runs it.
    script = 'printf throwaway | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$@"'
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_RUNTIME_DIR": str(tmp_path)}
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    done = subprocess.run(
        ["timeout", "120", "dbus-run-session", "--", "sh", "-c", script, "sh",
         sys.executable, "-c", KEYRING_CHILD, idp.token_url, str(tmp_path / "state")],
        env=env, capture_output=True, text=True,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert idp.token_requests() == 1


def test_keyring_fallback_without_a_secret_service(idp: Idp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from latchkey import errors

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    memory = latchkey.TokenManager(
        latchkey.ClientCredentialsAuth("svc-post", "post-secret-123"),
        token_url=idp.token_url,
        client_auth="post",
        store=latchkey.KeyringTokenStore("latchkey-py-test", state_dir=tmp_path, fallback="memory"),
    )
    assert memory.header().startswith("Bearer ")
    with pytest.raises(errors.StoreError):
        latchkey.TokenManager(
            latchkey.ClientCredentialsAuth("svc-post", "post-secret-123"),
            token_url=idp.token_url,
            client_auth="post",
            store=latchkey.KeyringTokenStore("latchkey-py-test", state_dir=tmp_path),
        )
