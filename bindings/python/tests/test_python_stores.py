"""Stores written in Python, in the shapes of the seeds' store protocols (dhis2w's async
``get``/``set``, pywry's async ``load``/``save``/``delete``/``exists``/``list_keys``, cdse's sync
``load``/``save``/``clear``), behind managers that talk to the real identity provider fixture."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import latchkey

from .conftest import Idp, wait_for_child


def manager(idp: Idp, store: Any, **options: Any) -> latchkey.TokenManager:
    return latchkey.TokenManager(
        latchkey.ClientCredentialsAuth("svc-post", "post-secret-123"),
        token_url=idp.token_url,
        client_auth="post",
        store=store,
        **{"key": "svc", **options},
    )


class DictStore:
    """dhis2w's ``TokenStore`` protocol over a dict; records the threads it ran on."""

    def __init__(self) -> None:
        self.tokens: dict[str, Any] = {}
        self.threads: set[str] = set()

    async def get(self, key: str) -> Any:
        self.threads.add(threading.current_thread().name)
        await asyncio.sleep(0)  # a real suspension point, as a network store has
        return self.tokens.get(key)

    async def set(self, key: str, token: latchkey.TokenSet) -> None:
        self.threads.add(threading.current_thread().name)
        self.tokens[key] = token


class SqliteStore:
    """dhis2w's protocol over sqlite3, keeping ``TokenSet.to_json()`` and returning the text."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE IF NOT EXISTS tokens (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    async def get(self, key: str) -> str | None:
        with sqlite3.connect(self.path) as db:
            row = db.execute("SELECT value FROM tokens WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    async def set(self, key: str, token: latchkey.TokenSet) -> None:
        with sqlite3.connect(self.path) as db:
            db.execute("INSERT OR REPLACE INTO tokens VALUES (?, ?)", (key, token.to_json()))


class PywryStore:
    """pywry's ``TokenStore`` (all async), serializing the way pywry's own stores do
    (``pywry.auth.token_store._serialize_tokens``: the attributes of its ``OAuthTokenSet``)."""

    def __init__(self) -> None:
        self.rows: dict[str, str] = {}

    async def save(self, key: str, tokens: latchkey.TokenSet) -> None:
        self.rows[key] = json.dumps(
            {
                "access_token": tokens.access_token,
                "token_type": tokens.token_type,
                "refresh_token": tokens.refresh_token,
                "expires_in": tokens.expires_in,
                "id_token": tokens.id_token,
                "scope": tokens.scope,
                "raw": tokens.raw,
                "issued_at": tokens.issued_at,
            }
        )

    async def load(self, key: str) -> dict[str, Any] | None:
        row = self.rows.get(key)
        return None if row is None else json.loads(row)  # type: ignore[no-any-return]

    async def delete(self, key: str) -> None:
        self.rows.pop(key, None)

    async def exists(self, key: str) -> bool:
        return key in self.rows

    async def list_keys(self) -> list[str]:
        return list(self.rows)


@dataclass
class CdseTokens:
    """The fields of cdse's ``TokenSet`` model."""

    access_token: str
    access_expiry: datetime
    refresh_token: str | None = None
    refresh_expiry: datetime | None = None
    token_type: str = "Bearer"


class CdseStore:
    """cdse's ``TokenStore`` ABC: sync, one token set, no key."""

    def __init__(self) -> None:
        self.tokens: CdseTokens | None = None
        self.calls: list[str] = []

    def load(self) -> CdseTokens | None:
        self.calls.append("load")
        return self.tokens

    def save(self, tokens: latchkey.TokenSet) -> None:
        self.calls.append("save")
        assert tokens.expires_at is not None
        self.tokens = CdseTokens(
            access_token=tokens.access_token,
            access_expiry=datetime.fromtimestamp(tokens.expires_at, UTC),
            refresh_token=tokens.refresh_token,
            token_type=tokens.token_type,
        )

    def clear(self) -> None:
        self.calls.append("clear")
        self.tokens = None


def test_dhis2w_async_store_keeps_the_token_for_a_second_manager(idp: Idp) -> None:
    store = DictStore()
    first = manager(idp, store).header()
    assert idp.token_requests() == 1
    assert isinstance(store.tokens["svc"], latchkey.TokenSet)
    assert manager(idp, store).header() == first
    assert idp.token_requests() == 1
    # The coroutines ran on the binding's own loop, not on a caller's.
    assert store.threads == {"latchkey-store-loop"}


def test_sync_header_inside_a_running_loop_with_an_async_store_does_not_deadlock(idp: Idp) -> None:
    store = DictStore()

    async def main() -> tuple[str, str]:
        sync = manager(idp, store).header()  # blocks this loop; the store runs on another
        return sync, await manager(idp, store).aheader()

    sync, awaited = asyncio.run(asyncio.wait_for(main(), timeout=20))
    assert sync == awaited and idp.token_requests() == 1


def test_dhis2w_sqlite_store_is_read_by_a_new_store_object(idp: Idp, tmp_path: Path) -> None:
    path = tmp_path / "tokens.sqlite"
    first = manager(idp, SqliteStore(path)).header()
    assert manager(idp, SqliteStore(path)).header() == first
    assert idp.token_requests() == 1
    with sqlite3.connect(path) as db:
        (stored,) = db.execute("SELECT value FROM tokens WHERE key = 'svc'").fetchone()
    assert json.loads(stored)["version"] == 1


def test_pywry_store_loads_its_own_form_and_deletes_on_logout(idp: Idp) -> None:
    store = PywryStore()
    first = manager(idp, store).header()
    row = json.loads(store.rows["svc"])
    assert "version" not in row and row["expires_in"] > 0 and row["issued_at"] > 0
    second = manager(idp, store)
    assert second.header() == first
    assert idp.token_requests() == 1
    second.logout()
    assert store.rows == {}


def test_cdse_sync_store_holds_one_token_set(idp: Idp) -> None:
    store = CdseStore()
    first = manager(idp, store).header()
    assert store.tokens is not None and "save" in store.calls
    assert manager(idp, store, key="another-key").header() == first  # cdse's store has no key
    assert idp.token_requests() == 1
    manager(idp, store).logout()
    assert store.tokens is None and store.calls[-1] == "clear"


def test_a_pydantic_model_returned_by_the_store_loads(idp: Idp) -> None:
    pydantic = pytest.importorskip("pydantic")

    class OAuth2Token(pydantic.BaseModel):  # type: ignore[misc, name-defined]
        """dhis2w's token model: unix-seconds expiry, tokens masked in model_dump()."""

        access_token: str
        refresh_token: str | None = None
        expires_at: float

        @pydantic.field_serializer("access_token", "refresh_token")  # type: ignore[misc]
        def _mask(self, value: str | None) -> str | None:
            return None if value is None else "***"

    class ModelStore:
        def __init__(self) -> None:
            self.tokens: dict[str, Any] = {}

        async def get(self, key: str) -> Any:
            return self.tokens.get(key)

        async def set(self, key: str, token: latchkey.TokenSet) -> None:
            assert token.expires_at is not None
            self.tokens[key] = OAuth2Token(access_token=token.access_token, expires_at=token.expires_at)

    store = ModelStore()
    first = manager(idp, store).header()
    assert manager(idp, store).header() == first
    assert idp.token_requests() == 1


class RaisingStore:
    async def get(self, key: str) -> None:
        raise RuntimeError("database is locked")

    async def set(self, key: str, token: latchkey.TokenSet) -> None:
        raise AssertionError("never reached")


def test_a_store_that_raises_is_a_store_error_with_its_message(idp: Idp) -> None:
    with pytest.raises(latchkey.errors.StoreError) as caught:
        manager(idp, RaisingStore()).header()
    message = str(caught.value)
    assert "RuntimeError: database is locked" in message and "RaisingStore" in message
    assert any("RaisingStore" in note for note in getattr(caught.value, "__notes__", []))
    assert idp.token_requests() == 0


def test_a_token_quoted_in_a_store_exception_is_hidden(idp: Idp) -> None:
    tokens: list[str] = []

    class QuotingStore:
        async def get(self, key: str) -> None:
            return None

        async def set(self, key: str, token: latchkey.TokenSet) -> None:
            tokens.append(token.access_token)
            raise ValueError(f"cannot store {token.access_token!r} for {key}")  # as pydantic quotes input

    logged: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.append(record.getMessage() + repr(record.__dict__))

    handler = Capture()
    logging.getLogger("latchkey").addHandler(handler)
    latchkey.reset_log_cache()
    try:
        with pytest.raises(latchkey.errors.StoreError, match="cannot store '\\[REDACTED\\]' for svc") as caught:
            manager(idp, QuotingStore()).header()
    finally:
        logging.getLogger("latchkey").removeHandler(handler)
        latchkey.reset_log_cache()
    assert idp.token_requests() == 1
    text = str(caught.value) + "".join(logged)
    assert "ValueError" in text and "fresh tokens could not be saved" in text  # the log line
    assert tokens and tokens[0] not in text


class SyncRaisingStore:
    def load(self, key: str) -> None:
        raise PermissionError(13, "Permission denied")

    def save(self, key: str, tokens: latchkey.TokenSet) -> None:
        raise AssertionError("never reached")


def test_a_sync_store_that_raises_is_a_store_error(idp: Idp) -> None:
    with pytest.raises(latchkey.errors.StoreError, match="PermissionError"):
        manager(idp, SyncRaisingStore()).header()


@pytest.mark.parametrize(
    "garbage",
    [
        "not json",
        b"\x00\x01",
        42,
        ["SECRET-1"],
        {"refresh_token": "SECRET-2"},
        {"version": 99, "access_token": "SECRET-3"},
        {"access_token": "SECRET-4", "expires_at": "tomorrow"},
    ],
)
def test_a_store_returning_garbage_is_corrupt_not_logged_out(idp: Idp, garbage: Any) -> None:
    class GarbageStore:
        async def get(self, key: str) -> Any:
            return garbage

        async def set(self, key: str, token: latchkey.TokenSet) -> None:
            raise AssertionError("a corrupt entry must not be overwritten by a new login")

    with pytest.raises(latchkey.errors.StoreError, match="corrupt") as caught:
        manager(idp, GarbageStore()).header()
    assert "SECRET" not in str(caught.value)
    assert idp.token_requests() == 0


def test_logout_from_a_store_without_delete_names_the_missing_method(idp: Idp) -> None:
    store = DictStore()  # dhis2w's protocol has no delete
    signed_in = manager(idp, store)
    signed_in.header()
    with pytest.raises(latchkey.errors.StoreError, match="no delete\\(\\) method") as caught:
        signed_in.logout()
    assert any("DictStore" in note for note in getattr(caught.value, "__notes__", []))


def test_an_object_following_no_protocol_is_refused(idp: Idp) -> None:
    with pytest.raises(TypeError, match="get\\(key\\)/set\\(key, token\\)"):
        manager(idp, object())


def test_token_set_round_trips_through_its_record(idp: Idp) -> None:
    store = DictStore()
    manager(idp, store).header()
    tokens: latchkey.TokenSet = store.tokens["svc"]
    again = latchkey.TokenSet.from_dict(tokens.to_dict())
    assert again.access_token == tokens.access_token and again.scopes == tokens.scopes
    assert tokens.expires_at is not None and again.expires_at is not None
    assert abs(again.expires_at - tokens.expires_at) < 0.001  # the record keeps milliseconds
    assert latchkey.TokenSet.from_json(tokens.to_json()).authorization_header == tokens.authorization_header
    with pytest.raises(ValueError, match="no access_token"):
        latchkey.TokenSet.from_dict({"token": tokens.access_token})


def due_for_refresh(idp: Idp, store: Any) -> tuple[latchkey.TokenManager, str]:
    """A manager over `store` whose token (4 s lifetime) is now due for refresh."""
    idp.admin("POST", "/ttl", {"ClientCredentials": 4})  # due for refresh 2 s after issue
    shared = manager(idp, store)
    old = shared.header()
    deadline = time.monotonic() + 4
    while shared.cached_header() is not None:
        assert time.monotonic() < deadline, "the token never became due"
        time.sleep(0.05)
    idp.reset()
    return shared, old


@pytest.mark.parametrize("make_store", [DictStore, CdseStore], ids=["async", "sync"])
def test_stampede_of_200_threads_over_one_python_store_makes_one_request(idp: Idp, make_store: Any) -> None:
    store = make_store()
    try:
        shared, old = due_for_refresh(idp, store)
        barrier = threading.Barrier(200)
        seen: list[str] = []

        def call() -> None:
            barrier.wait()
            seen.append(shared.header())

        threads = [threading.Thread(target=call) for _ in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        idp.admin("POST", "/ttl/reset")
    assert len(seen) == 200 and old not in seen and len(set(seen)) == 1
    assert idp.token_requests() == 1
    stored = latchkey.TokenSet.from_dict(store.tokens["svc"] if isinstance(store, DictStore) else store.tokens)
    assert stored.authorization_header == seen[0]  # the store holds the new token


def test_stampede_of_200_asyncio_tasks_over_one_python_store_makes_one_request(idp: Idp) -> None:
    store = DictStore()
    try:
        shared, old = due_for_refresh(idp, store)

        async def run() -> list[str]:
            return await asyncio.gather(*(shared.aheader() for _ in range(200)))

        seen = asyncio.run(asyncio.wait_for(run(), timeout=30))
    finally:
        idp.admin("POST", "/ttl/reset")
    assert len(seen) == 200 and old not in seen and len(set(seen)) == 1
    assert idp.token_requests() == 1


def test_forked_child_uses_an_async_python_store(idp: Idp) -> None:
    store = DictStore()
    parent = manager(idp, store)
    parent_header = parent.header()
    pid = os.fork()
    if pid == 0:  # the child: the store's loop thread did not survive the fork
        code = 1
        try:
            parent.invalidate(parent_header)
            fresh = parent.header()
            code = 0 if fresh != parent_header and store.tokens["svc"].authorization_header == fresh else 2
        finally:
            os._exit(code)
    assert wait_for_child(pid) == 0
    assert idp.token_requests() == 2
    assert manager(idp, store).header() == parent_header  # the parent's store is its own


def test_dhis2w_oauth2auth_keeps_its_login_in_a_python_store(idp: Idp) -> None:
    import urllib.parse

    from .person import Person
    from .test_dhis2w import dhis2w_auth

    store = DictStore()
    logins: list[str] = []

    async def capture(auth_url: str, expected_state: str) -> str:
        logins.append(auth_url)
        redirect = await asyncio.to_thread(Person().log_in_and_consent, auth_url, idp.issuer)
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(redirect).query))["code"]

    def auth() -> latchkey.OAuth2Auth:
        return dhis2w_auth(idp, token_store=store, redirect_capturer=capture)

    first = asyncio.run(auth().headers())
    second = asyncio.run(auth().headers())  # a new process would do this: no second login
    assert first == second and len(logins) == 1
    assert idp.counters()["token"]["authorization_code"] == 1
    assert store.tokens["profile.prod"].refresh_token is not None
