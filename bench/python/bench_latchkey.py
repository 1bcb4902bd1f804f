#!/usr/bin/env python3
"""Measures latchkey's Python package (bindings/python) and prints JSON lines for
bench/table.py, in the rows bench/py/bench_peers.py fills for the Python peers.

    python bench/python/bench_latchkey.py [--quick]

Needs the package installed (bench/run.sh builds the wheel into the peers' venv) and httpx.
Rows: the header for a valid token (sync `header()`, async `await aheader()`); the same with
one thread per core; a stampede of N asyncio tasks and of 1,000 threads at expiry; 8
processes sharing a file store; cold start with a token in the file store; and auth's share
of an httpx request (MockTransport: no network, so the share is of httpx's own work).
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "py"))
from bench_peers import (  # noqa: E402 - the peers' harness, so the rows are measured alike
    N,
    QUICK,
    ROUNDS,
    STAMPEDE,
    Idp,
    all_cores,
    async_storm,
    emit,
    median_ns_async,
    median_ns_sync,
    report_fast,
    run_cold,
)

import latchkey  # noqa: E402

SYSTEM = "latchkey-py"
LIFETIME = 4  # seconds; the refresh is due after half of it


def manager(idp: Idp, **kwargs) -> latchkey.TokenManager:
    return latchkey.TokenManager(
        latchkey.ClientCredentialsAuth("svc-post", "post-secret-123"),
        token_url=idp.token_url,
        client_auth="post",
        **kwargs,
    )


def due(m: latchkey.TokenManager) -> None:
    while m.cached_header() is not None:
        time.sleep(0.02)


def fast_path(idp: Idp) -> None:
    m = manager(idp)
    m.header()
    idp.reset()
    sync = median_ns_sync(m.header)
    report_fast(SYSTEM, sync, all_cores(make_sync=lambda: m.header))

    async def make():
        return m.aheader

    aio = median_ns_async(make)
    report_fast(f"{SYSTEM} (async)", aio, all_cores(make_async=make))
    assert idp.token_requests() == 0, "the fast path made token requests"


def stampedes(idp: Idp) -> None:
    idp.admin("POST", "/ttl", {"ClientCredentials": LIFETIME})
    m = manager(idp)
    m.header()
    due(m)
    idp.reset()

    async def storm():
        return await async_storm(m.aheader)

    ms, errors = asyncio.run(storm())
    emit(f"stampede, {STAMPEDE} tasks at expiry", SYSTEM, ms=ms, errors=errors,
         requests=idp.token_requests(), note="asyncio tasks, `await aheader()`")

    m = manager(idp)
    m.header()
    due(m)
    idp.reset()
    barrier = threading.Barrier(1001)
    failures = []

    def call():
        barrier.wait()
        try:
            m.header()
        except Exception as exc:  # noqa: BLE001 - counted
            failures.append(exc)

    threads = [threading.Thread(target=call) for _ in range(1000)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    emit("stampede, 1000 threads at expiry", SYSTEM, ms=(time.perf_counter() - start) * 1e3,
         errors=len(failures), requests=idp.token_requests(), note="`header()`")
    idp.admin("POST", "/ttl/reset")


WORKER = """
import sys, time, latchkey
m = latchkey.TokenManager(latchkey.ClientCredentialsAuth("svc-post", "post-secret-123"),
    token_url=sys.argv[1], client_auth="post", key="shared", store=latchkey.FileTokenStore(sys.argv[2]))
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))
print(m.header())
"""


def processes(idp: Idp) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        idp.reset()
        at = time.time() + 2.0
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, idp.token_url, tmp, str(at)],
                                  stdout=subprocess.PIPE, text=True) for _ in range(8)]
        outs = [p.communicate(timeout=60)[0].strip() for p in procs]
        ms = (time.time() - at) * 1e3
        emit("cross-process, 8 processes at once", SYSTEM, ms=ms,
             errors=sum(p.returncode != 0 for p in procs), requests=idp.token_requests(),
             note=f"file store; {len(set(outs))} distinct token(s)")


def cold(idp: Idp) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        script = ("import sys, latchkey; print(latchkey.TokenManager(latchkey.ClientCredentialsAuth("
                  "'svc-post', 'post-secret-123'), token_url=sys.argv[1], client_auth='post', key='k', "
                  "store=latchkey.FileTokenStore(sys.argv[2])).header())")
        cmd = [sys.executable, "-c", script, idp.token_url, tmp]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        idp.reset()
        ms, rss, status = run_cold(cmd, None, 10 if QUICK else 20)
        if status != 0:
            emit("cold start (token from cache)", SYSTEM, error=f"exit status {status}")
            return
        emit("cold start (token from cache)", SYSTEM, ms=ms, rss_mb=rss, requests=idp.token_requests(),
             note="python -c: import, manager over a file store, header()")


def httpx_share(idp: Idp) -> None:
    import httpx

    import latchkey.httpx

    m = manager(idp)
    m.header()
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    plain = httpx.Client(transport=transport)
    authed = httpx.Client(transport=transport, auth=latchkey.httpx.Auth(m))
    n = max(200, N // 20)

    def per_request(client: httpx.Client) -> float:
        samples = []
        for _ in range(ROUNDS):
            start = time.perf_counter_ns()
            for _ in range(n):
                client.get("http://api.example/x")
            samples.append((time.perf_counter_ns() - start) / n)
        return statistics.median(samples)

    base, with_auth = per_request(plain), per_request(authed)
    emit("httpx request, auth's share", SYSTEM, ns_per_op=with_auth - base,
         note=f"{with_auth / 1e3:.1f} µs per request with latchkey.httpx.Auth, "
              f"{base / 1e3:.1f} µs without (MockTransport)")


def main() -> None:
    idp = Idp()
    try:
        for step in (fast_path, stampedes, processes, cold, httpx_share):
            try:
                step(idp)
            except Exception as exc:  # noqa: BLE001 - one failed row must not hide the others
                emit(step.__name__, SYSTEM, error=f"{type(exc).__name__}: {exc}"[:200])
    finally:
        idp.stop()


if __name__ == "__main__":
    main()
