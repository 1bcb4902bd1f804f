"""The identity provider fixture (tests/idp, oidc-provider on loopback), started the way the
Rust test kit starts it (crates/latchkey-testkit/src/idp.rs): `node server.mjs` with PORT=0,
one JSON ready line on stdout, stopped by closing its stdin."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
SERVER = ROOT / "tests" / "idp" / "server.mjs"


class Idp:
    """A running fixture: its issuer and admin API (never counted or faulted)."""

    def __init__(self) -> None:
        stderr = None if os.environ.get("LATCHKEY_IDP_LOG") else subprocess.DEVNULL
        self.process = subprocess.Popen(
            ["node", str(SERVER)],
            env={**os.environ, "PORT": "0", "HOST": "127.0.0.1"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the IdP fixture exited before it was ready (LATCHKEY_IDP_LOG=1 shows its log)")
        self.issuer: str = json.loads(line)["issuer"]

    @property
    def token_url(self) -> str:
        return self.issuer + "/token"

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.issuer}/__admin{path}",
            data=data,
            method=method,
            headers={"content-type": "application/json"},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=10) as response:
            text = response.read()
        return json.loads(text) if text else None

    def counters(self) -> dict[str, Any]:
        return self.admin("GET", "/counters")  # type: ignore[no-any-return]

    def token_requests(self) -> int:
        return int(self.counters()["token"]["total"])

    def reset(self) -> None:
        self.admin("POST", "/counters/reset")
        self.admin("DELETE", "/faults")

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="session")
def idp_server() -> Iterator[Idp]:
    server = Idp()
    yield server
    server.stop()


@pytest.fixture
def idp(idp_server: Idp) -> Idp:
    """The session's fixture with its counters and faults reset."""
    idp_server.reset()
    return idp_server


def wait_for_child(pid: int, timeout: float = 20.0) -> int:
    """The exit code of the forked child `pid`; fails the test (and kills the child) when it
    has not exited within `timeout` seconds: a hang is what fork tests look for."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            pytest.fail("the forked child hung")
        time.sleep(0.05)
