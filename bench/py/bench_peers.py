#!/usr/bin/env python3
"""Measures one Python peer against the IdP fixture and prints JSON lines for table.py.

    python bench_peers.py PEER [--quick]     PEER: cdse | dhis2w | pywry | authlib
    python bench_peers.py --cold PEER        one cold process: import, load a cached token, print it
    python bench_peers.py --cold-cli BINARY [SYSTEM BUILD]  the same for `latchkey token` (stdlib only)

Each run starts its own fixture (node tests/idp/server.mjs) and stops it on exit. Rows:
fast path (1 thread; all cores = one thread per core, each with its own client when the
peer's locks are bound to one event loop), and a stampede of N concurrent callers at expiry,
with the IdP's token requests counted through its admin API.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUICK = "--quick" in sys.argv
ROUNDS, N, STAMPEDE = (5, 2_000, 500) if QUICK else (15, 20_000, 10_000)
THREADS = os.cpu_count() or 2
STORM_LIMIT_S = 100


def emit(row: str, system: str, **fields) -> None:
    print(json.dumps({"row": row, "system": system, **fields}), flush=True)


class Idp:
    def __init__(self) -> None:
        env = dict(os.environ, PORT="0", HOST="127.0.0.1")
        self.proc = subprocess.Popen(
            ["node", str(ROOT / "tests/idp/server.mjs")],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        self.issuer = json.loads(self.proc.stdout.readline())["issuer"]
        self.token_url = self.issuer + "/token"

    def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.issuer + "/__admin" + path, data=data, method=method,
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read() or b"null")

    def reset(self) -> None:
        self.admin("POST", "/counters/reset")

    def token_requests(self) -> int:
        return self.admin("GET", "/counters")["token"]["total"]

    def password_tokens(self) -> dict:
        body = ("grant_type=password&username=alice&password=alice-password"
                "&client_id=pw-client&scope=openid%20offline_access").encode()
        with urllib.request.urlopen(urllib.request.Request(self.token_url, data=body)) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def fake_dhis2_token_path(idp: Idp) -> str:
    """dhis2w-client posts to `{base_url}/oauth2/token` (DHIS2's path); the fixture serves
    `/token`. This forwarder maps the one path onto the other, one IdP request per request."""

    class Forward(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            req = urllib.request.Request(idp.token_url, data=body, method="POST",
                                         headers={"content-type": self.headers["content-type"]})
            try:
                with urllib.request.urlopen(req) as resp:
                    status, payload = resp.status, resp.read()
            except urllib.error.HTTPError as err:
                status, payload = err.code, err.read()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def median_ns_sync(call) -> float:
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter_ns()
        for _ in range(N):
            call()
        samples.append((time.perf_counter_ns() - start) / N)
    return statistics.median(samples)


def median_ns_async(make) -> float:
    """`make()` (called inside the loop) returns a coroutine function to time."""

    async def run() -> float:
        call = await make()
        samples = []
        for _ in range(ROUNDS):
            start = time.perf_counter_ns()
            for _ in range(N):
                await call()
            samples.append((time.perf_counter_ns() - start) / N)
        return statistics.median(samples)

    return asyncio.run(run())


def all_cores(make_sync=None, make_async=None) -> float:
    """Wall ns per call with THREADS threads calling at once; NaN if any call raised."""
    samples = []
    failures: list[BaseException] = []
    for _ in range(max(3, ROUNDS // 3)):
        barrier = threading.Barrier(THREADS + 1)

        def worker() -> None:
            try:
                if make_sync is not None:
                    call = make_sync()
                    barrier.wait()
                    for _ in range(N):
                        call()
                else:
                    async def run() -> None:
                        call = await make_async()
                        barrier.wait()
                        for _ in range(N):
                            await call()
                    asyncio.run(run())
            except BaseException as exc:  # noqa: BLE001 - reported, never timed
                failures.append(exc)
                barrier.abort()

        threads = [threading.Thread(target=worker) for _ in range(THREADS)]
        for t in threads:
            t.start()
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        start = time.perf_counter_ns()
        for t in threads:
            t.join()
        if failures:
            return float("nan")
        samples.append((time.perf_counter_ns() - start) / (N * THREADS))
    return statistics.median(samples)


async def async_storm(call) -> tuple[float, int]:
    """STAMPEDE callers wait at a gate, then call at the same moment; (wall ms, failures)."""
    gate = asyncio.Event()
    ready = 0

    async def one() -> bool:
        nonlocal ready
        ready += 1
        await gate.wait()
        try:
            await call()
            return True
        except Exception:  # noqa: BLE001 - a failed caller is counted, not fatal
            return False

    tasks = [asyncio.ensure_future(one()) for _ in range(STAMPEDE)]
    while ready < STAMPEDE:
        await asyncio.sleep(0)
    start = time.perf_counter()
    gate.set()
    results = await asyncio.gather(*tasks)
    return (time.perf_counter() - start) * 1e3, results.count(False)


def report_fast(system: str, fast1: float, fast_all: float) -> None:
    emit("fast path, 1 task", system, ns_per_op=fast1)
    row = f"fast path, all cores ({THREADS} threads)"
    if fast_all != fast_all:  # NaN: a caller raised
        emit(row, system, error="a call raised in a worker thread")
    else:
        emit(row, system, ns_per_op=fast_all)


def report_storm(idp: Idp, system: str, run, note: str) -> None:
    """Runs the stampede coroutine `run()` in a thread with a time limit. A peer still busy
    after STORM_LIMIT_S is reported as timed out with the IdP requests it made so far, and
    the process exits (its threads may be stuck in the peer)."""
    row = f"stampede, {STAMPEDE} tasks at expiry"
    if not callable(run):
        ms, errors = run
        emit(row, system, ms=ms, errors=errors, requests=idp.token_requests(), note=note)
        return
    result: list = []
    worker = threading.Thread(target=lambda: result.append(asyncio.run(run())), daemon=True)
    worker.start()
    worker.join(STORM_LIMIT_S)
    if result:
        ms, errors = result[0]
        emit(row, system, ms=ms, errors=errors, requests=idp.token_requests(), note=note)
        return
    emit(row, system, timed_out=True, requests=idp.token_requests(),
         note=f"{note}; still busy after {STORM_LIMIT_S} s")
    idp.stop()
    sys.stdout.flush()
    os._exit(0)


# --- peers -------------------------------------------------------------------------------

def bench_cdse(idp: Idp) -> None:
    import httpx
    from cdse.auth.manager import TokenManager
    from cdse.auth.providers import ClientCredentialsAuth

    def make():
        mgr = TokenManager(ClientCredentialsAuth("svc-post", "post-secret-123"),
                           http=httpx.Client(), token_url=idp.token_url)
        mgr.authorization_header()
        return mgr.authorization_header

    shared = make()
    fast1 = median_ns_sync(shared)
    fast_all = all_cores(make_sync=lambda: shared)
    mgr = shared.__self__
    tokens = mgr._store.load()
    mgr._store.save(tokens.model_copy(update={"access_expiry": datetime.now(UTC) - timedelta(seconds=1)}))
    report_fast("cdse", fast1, fast_all)

    async def stampede() -> tuple[float, int]:
        # A sync library: the stampede is STAMPEDE calls over a pool of 64 threads.
        idp.reset()
        start = time.perf_counter()
        errors = 0
        with concurrent.futures.ThreadPoolExecutor(64) as pool:
            for fut in [pool.submit(shared) for _ in range(STAMPEDE)]:
                errors += fut.exception() is not None
        return (time.perf_counter() - start) * 1e3, errors

    report_storm(idp, "cdse", stampede, "client_credentials; 64 threads")


def bench_dhis2w(idp: Idp) -> None:
    from dhis2w_client import OAuth2Auth, OAuth2Token

    base = fake_dhis2_token_path(idp)

    class Store:
        def __init__(self) -> None:
            self.tokens = {}

        async def get(self, key):
            return self.tokens.get(key)

        async def set(self, key, token) -> None:
            self.tokens[key] = token

    async def no_login(url, state):
        raise RuntimeError("bench: no interactive login")

    async def make_auth(expires_at: float):
        tokens = idp.password_tokens()
        store = Store()
        store.tokens["bench"] = OAuth2Token(access_token=tokens["access_token"],
                                            refresh_token=tokens["refresh_token"],
                                            expires_at=expires_at, base_url=base, client_id="pw-client")
        return OAuth2Auth(base_url=base, client_id="pw-client", client_secret="", scope="openid",
                          redirect_uri="http://localhost:8765", token_store=store, store_key="bench",
                          redirect_capturer=no_login, open_browser=False)

    async def make():
        auth = await make_auth(time.time() + 3600)
        return auth.headers

    report_fast("dhis2w-client", median_ns_async(make), all_cores(make_async=make))

    async def stampede():
        auth = await make_auth(time.time() - 1)
        idp.reset()
        return await async_storm(auth.headers)

    report_storm(idp, "dhis2w-client", stampede, "refresh_token via a fake_ path forwarder")


def bench_pywry(idp: Idp) -> None:
    from pywry.auth import GenericOIDCProvider, MemoryTokenStore, SessionManager
    from pywry.state.types import OAuthTokenSet

    def token_set(tokens: dict, issued_at: float) -> OAuthTokenSet:
        return OAuthTokenSet(access_token=tokens["access_token"], refresh_token=tokens["refresh_token"],
                             expires_in=3600, issued_at=issued_at)

    def session() -> SessionManager:
        # token_url without issuer_url: no discovery round trips inside the stampede.
        provider = GenericOIDCProvider(client_id="pw-client", client_secret="",
                                       token_url=idp.token_url, require_id_token_validation=False)
        return SessionManager(provider, MemoryTokenStore(), session_key="bench")

    shared = session()
    shared._current_tokens = token_set(idp.password_tokens(), time.time())

    async def make():
        return shared.get_access_token

    report_fast("pywry", median_ns_async(make), all_cores(make_async=make))

    async def stampede():
        sm = session()
        sm._current_tokens = token_set(idp.password_tokens(), time.time() - 3601)
        idp.reset()
        return await async_storm(sm.get_access_token)

    report_storm(idp, "pywry", stampede, "refresh_token")


def bench_authlib(idp: Idp) -> None:
    from authlib.integrations.httpx_client import AsyncOAuth2Client

    def client() -> AsyncOAuth2Client:
        return AsyncOAuth2Client(client_id="svc-post", client_secret="post-secret-123",
                                 token_endpoint=idp.token_url, grant_type="client_credentials",
                                 token_endpoint_auth_method="client_secret_post")

    async def make():
        c = client()
        await c.fetch_token()

        async def header() -> str:
            await c.ensure_active_token(c.token)
            return "Bearer " + c.token["access_token"]

        return header

    report_fast("authlib", median_ns_async(make), all_cores(make_async=make))

    async def stampede():
        c = client()
        await c.fetch_token()
        c.token["expires_at"] = int(time.time()) - 10

        async def header() -> str:
            await c.ensure_active_token(c.token)
            return "Bearer " + c.token["access_token"]

        idp.reset()
        return await async_storm(header)

    report_storm(idp, "authlib", stampede, "client_credentials")


PEERS = {"cdse": bench_cdse, "dhis2w": bench_dhis2w, "pywry": bench_pywry, "authlib": bench_authlib}

# --- cold start: the whole process, as a CLI would pay it ------------------------------------

COLD = {
    # Each: import the library, read a cached token from a file, print the header.
    "cdse": "from cdse.auth.store import FileTokenStore; from pathlib import Path; "
            "print(FileTokenStore(Path(sys.argv[1])).load().authorization_header)",
    "dhis2w": "from dhis2w_client import OAuth2Token; import json; "
              "print('Bearer ' + OAuth2Token(**json.load(open(sys.argv[1]))).access_token)",
    "pywry": "import pywry.auth, json; print('Bearer ' + json.load(open(sys.argv[1]))['access_token'])",
    "authlib": "from authlib.oauth2.rfc6749 import OAuth2Token; import json; "
               "print('Bearer ' + OAuth2Token(json.load(open(sys.argv[1])))['access_token'])",
}


def run_cold(cmd: list[str], env: dict | None, runs: int) -> tuple[float, float, int]:
    """Median wall ms of `runs` runs, and the peak RSS in MiB. Timed by hyperfine when it is
    installed (bench/run.sh installs it): it starts each run straight from a small process,
    after warm-up runs, so a millisecond-scale program is not charged for forking this
    Python parent. RSS comes from /usr/bin/time (GNU time's %M): `wait4` from this Python
    parent over-reports it, because the child's pages before `exec` are counted."""
    import shlex
    import shutil
    import tempfile
    if shutil.which("hyperfine"):
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "hyperfine.json"
            done = subprocess.run(
                ["hyperfine", "-N", "--warmup", "3", "--runs", str(runs),
                 "--export-json", str(report), shlex.join(cmd)],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if done.returncode != 0:
                return 0.0, 0.0, done.returncode
            median_ms = json.loads(report.read_text())["results"][0]["median"] * 1e3
    else:
        walls = []
        for _ in range(runs):
            start = time.perf_counter()
            done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL)
            walls.append((time.perf_counter() - start) * 1e3)
            if done.returncode != 0:
                return 0.0, 0.0, done.returncode
        median_ms = statistics.median(walls)
    rss = float("nan")
    if os.path.exists("/usr/bin/time"):
        timed = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        rss = int(timed.stderr.strip().splitlines()[-1]) / 1024
    return median_ms, rss, 0


def cold(peer: str, runs: int = 20) -> None:
    import tempfile
    exp = datetime.now(UTC) + timedelta(hours=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "token.json"
        if peer == "cdse":
            from cdse.auth.store import FileTokenStore, TokenSet
            FileTokenStore(path).save(TokenSet(access_token="a" * 43, access_expiry=exp))
        else:
            path.write_text(json.dumps({"access_token": "a" * 43, "expires_at": exp.timestamp(),
                                        "base_url": "x", "client_id": "y"}))
        ms, rss, status = run_cold([sys.executable, "-c", "import sys; " + COLD[peer], str(path)],
                                   None, runs)
        if status != 0:
            emit("cold start (token from cache)", peer, error=f"exit status {status}")
            return
        emit("cold start (token from cache)", peer, ms=ms, rss_mb=rss)


def cold_cli(binary: str, system: str = "latchkey", build: str = "", runs: int = 200) -> None:
    """`latchkey token` as a whole process: a client-credentials profile whose token is
    already in the file store (the first run fetched it), so every measured run only starts,
    reads the profile and the store, and prints the token. `build` says which build of the
    binary this is, in the row's note."""
    import tempfile
    row = "cold start (token from cache)"
    idp = Idp()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, LATCHKEY_CONFIG=f"{tmp}/profiles.toml",
                       LATCHKEY_STATE_DIR=f"{tmp}/state", SVC_SECRET="post-secret-123")
            setup = [binary, "profile", "add", "svc", "--auth", "client-credentials",
                     "--token-url", idp.token_url, "--client-id", "svc-post",
                     "--client-secret-env", "SVC_SECRET", "--client-auth", "client_secret_post",
                     "--scope", "api:read", "--default"]
            for cmd in (setup, [binary, "token"]):
                done = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if done.returncode != 0:
                    emit(row, system, error=f"`{' '.join(cmd[1:3])}` failed: {done.stderr.strip()[:200]}")
                    return
            idp.reset()
            ms, rss, status = run_cold([binary, "token"], env, runs)
            if status != 0:
                emit(row, system, error=f"`latchkey token` exit status {status}")
                return
            note = "`latchkey token`, client-credentials profile, file store"
            emit(row, system, ms=ms, rss_mb=rss, requests=idp.token_requests(),
                 note=f"{note}; {build}" if build else note)
    finally:
        idp.stop()


def main() -> None:
    import logging
    import warnings
    logging.disable(logging.CRITICAL)  # peers log a traceback per failed caller
    warnings.simplefilter("ignore")
    args = [a for a in sys.argv[1:] if not a.startswith("--quick")]
    if args and args[0] == "--cold":
        cold(args[1])
        return
    if args and args[0] == "--cold-cli":
        cold_cli(*args[1:4])
        return
    peer = args[0]
    idp = Idp()
    try:
        PEERS[peer](idp)
    finally:
        idp.stop()


if __name__ == "__main__":
    main()
