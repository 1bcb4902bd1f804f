"""The async fast path against the cost of `await` itself, in one run and one interpreter.

    python bench/python/bench_await.py

Rows (ns per `await call()`, the harness of bench/py/bench_peers.py): a trivial `async def`
that returns a constant (the floor of any coroutine), an asyncio Future that is already done
(an awaitable written in C, finishing by raising StopIteration(value) as any non-coroutine
awaitable must in CPython 3.12+), latchkey's `await aheader()` and `cached_header()` (the
Rust call inside it), and the sync `header()`, for scale; and the floor of one call into the
extension (a fixed bearer's `header()`, which only hands back a stored string), bare and
inside a trivial `async def`.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "py"))
from bench_peers import Idp, emit, median_ns_async, median_ns_sync  # noqa: E402

import latchkey  # noqa: E402


async def constant() -> str:
    return "Bearer x"


def main() -> None:
    idp = Idp()
    try:
        m = latchkey.TokenManager(
            latchkey.ClientCredentialsAuth("svc-post", "post-secret-123"),
            token_url=idp.token_url,
            client_auth="post",
        )
        m.header()

        async def floor():
            return constant

        async def done_future():
            future = asyncio.get_running_loop().create_future()
            future.set_result("Bearer x")
            return lambda: future

        async def aheader():
            return m.aheader

        fixed = latchkey.BearerAuth("x")

        async def over_extension():
            async def call() -> str | None:
                return fixed.header()

            return call

        for row, make in [
            ("await, trivial async def (floor)", floor),
            ("await, done asyncio Future (C awaitable)", done_future),
            ("await aheader()", aheader),
            ("await, async def over one no-op extension call", over_extension),
        ]:
            emit(row, "latchkey-py", ns=median_ns_async(make))
        emit("cached_header(), sync", "latchkey-py", ns=median_ns_sync(m.cached_header))
        emit("header(), sync", "latchkey-py", ns=median_ns_sync(m.header))
        emit("no-op extension call (fixed bearer header()), sync", "latchkey-py", ns=median_ns_sync(fixed.header))
        assert idp.token_requests() == 1, "the fast path made token requests"
    finally:
        idp.stop()


if __name__ == "__main__":
    main()
