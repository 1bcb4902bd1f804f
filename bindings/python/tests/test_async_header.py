"""`await aheader()` reads a header cell the Rust side keeps current: it must never hand out a
header the manager itself would not (due for refresh, rejected, from before a login, in a
forked child whose parent's sweeper does not run)."""

from __future__ import annotations

import asyncio
import os

import latchkey

from .conftest import Idp, wait_for_child
from .test_concurrency import LIFETIME, short_lived


def svc_manager(idp: Idp, **options: object) -> latchkey.TokenManager:
    return latchkey.TokenManager(
        latchkey.ClientCredentialsAuth("svc-post", "post-secret-123"),
        token_url=idp.token_url,
        client_auth="post",
        **options,  # type: ignore[arg-type]
    )


def test_the_cell_is_emptied_when_the_refresh_becomes_due(idp: Idp) -> None:
    manager = short_lived(idp)

    async def run() -> tuple[str, str]:
        first = await manager.aheader()
        assert await manager.aheader() == first
        # Nothing but the cell is consulted while it holds a header: wait past the due
        # moment (half the lifetime) without calling the manager at all.
        await asyncio.sleep(LIFETIME / 2 + 0.6)
        return first, await manager.aheader()

    first, later = asyncio.run(run())
    assert later != first, "aheader handed out a header whose refresh was due"
    assert idp.token_requests() == 2


def test_an_invalidated_header_is_not_handed_out_again(idp: Idp) -> None:
    manager = svc_manager(idp)

    async def run() -> None:
        rejected = await manager.aheader()
        await manager.ainvalidate(rejected)
        assert await manager.aheader() != rejected
        # The sync twin empties the cell as well.
        second = await manager.aheader()
        manager.invalidate(second)
        assert await manager.aheader() not in (rejected, second)

    asyncio.run(run())
    assert idp.token_requests() == 3


def test_a_login_replaces_the_header_in_the_cell(idp: Idp) -> None:
    manager = svc_manager(idp)

    async def run() -> None:
        before = await manager.aheader()
        await manager.alogin()
        after_async = await manager.aheader()
        assert after_async != before
        manager.login()
        assert await manager.aheader() not in (before, after_async)

    asyncio.run(run())
    assert idp.token_requests() == 3


def test_a_forked_child_does_not_keep_the_parents_header_past_its_due_moment(idp: Idp) -> None:
    manager = short_lived(idp)
    parent_header = asyncio.run(manager.aheader())
    assert manager.cached_header() == parent_header  # fills the cell; its sweeper starts
    assert manager._cell[0] == parent_header
    pid = os.fork()
    if pid == 0:  # the child: no sweeper of the parent's runs here
        code = 1
        try:

            async def child() -> int:
                if await manager.aheader() != parent_header:  # still fresh: served
                    return 2
                await asyncio.sleep(LIFETIME / 2 + 0.6)
                return 0 if await manager.aheader() != parent_header else 3

            code = asyncio.run(child())
        finally:
            os._exit(code)
    assert wait_for_child(pid) == 0
    assert idp.token_requests() == 2


def test_alogout_revokes_and_the_cell_forgets_the_header(idp: Idp) -> None:
    provider = latchkey.OidcProvider.discover(idp.issuer)
    manager = svc_manager(idp, revocation_url=provider.revocation_url)

    async def run() -> None:
        before = await manager.aheader()
        await manager.alogout()
        assert idp.counters()["revocation"] >= 1
        assert await manager.aheader() != before  # a new token, not the revoked one

    asyncio.run(run())
    assert idp.token_requests() == 2
