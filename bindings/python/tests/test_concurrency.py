"""One refresh per key: across 1,000 threads, 1,000 asyncio tasks and 8 processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import latchkey

from .conftest import Idp

# Tokens live 4 s; the refresh margin is capped at half a token's lifetime, so a token is
# due for refresh 2 s after it was obtained.
LIFETIME = 4


def short_lived(idp: Idp) -> latchkey.TokenManager:
    idp.admin("POST", "/ttl", {"ClientCredentials": LIFETIME})
    return latchkey.TokenManager(
        latchkey.ClientCredentialsAuth("svc-post", "post-secret-123"),
        token_url=idp.token_url,
        client_auth="post",
    )


def wait_until_due(manager: latchkey.TokenManager) -> None:
    deadline = time.monotonic() + LIFETIME
    while manager.cached_header() is not None:
        assert time.monotonic() < deadline, "the token never became due"
        time.sleep(0.05)


def test_stampede_of_1000_threads_at_expiry_makes_one_request(idp: Idp) -> None:
    manager = short_lived(idp)
    old = manager.header()
    wait_until_due(manager)
    idp.reset()
    barrier = threading.Barrier(1000)
    seen: list[str] = []

    def call() -> None:
        barrier.wait()
        seen.append(manager.header())

    threads = [threading.Thread(target=call) for _ in range(1000)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    idp.admin("POST", "/ttl/reset")
    assert len(seen) == 1000 and old not in seen and len(set(seen)) == 1
    assert idp.token_requests() == 1


def test_stampede_of_1000_asyncio_tasks_at_expiry_makes_one_request(idp: Idp) -> None:
    manager = short_lived(idp)
    old = manager.header()
    wait_until_due(manager)
    idp.reset()

    async def run() -> list[str]:
        return await asyncio.gather(*(manager.aheader() for _ in range(1000)))

    seen = asyncio.run(run())
    idp.admin("POST", "/ttl/reset")
    assert len(seen) == 1000 and old not in seen and len(set(seen)) == 1
    assert idp.token_requests() == 1


PROCESS = """
import sys, time, latchkey
manager = latchkey.TokenManager(
    latchkey.ClientCredentialsAuth("svc-post", "post-secret-123"),
    token_url=sys.argv[1], client_auth="post", key="shared",
    store=latchkey.FileTokenStore(sys.argv[2]),
)
start = float(sys.argv[3])
time.sleep(max(0.0, start - time.time()))
print(manager.header())
"""


def test_8_processes_sharing_a_file_store_make_one_request(idp: Idp, tmp_path: Path) -> None:
    start = time.time() + 2.0  # every interpreter is up by then; they all ask at once
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS, idp.token_url, str(tmp_path), str(start)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    headers = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(headers)) == 1 and headers[0].startswith("Bearer ")
    assert idp.token_requests() == 1
