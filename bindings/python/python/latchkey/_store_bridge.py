"""Stores written in Python: which protocol an object follows, the private event loop its
``async`` methods run on, and how what it returns becomes latchkey's stored record.

The compiled core (``latchkey._core``, src/py_store.rs) calls these helpers; users never do.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

# The fields read from a token object that is not latchkey's: the names the seeds' token
# classes use (pywry's OAuthTokenSet, cdse's TokenSet, dhis2w's OAuth2Token).
_FIELDS = (
    "version",
    "access_token",
    "token_type",
    "refresh_token",
    "id_token",
    "scope",
    "scopes",
    "expires_at",
    "expires_in",
    "issued_at",
    "obtained_at",
    "access_expiry",
    "refresh_expiry",
    "refresh_expires_at",
)


def shape(store: Any) -> str | None:
    """The protocol `store` follows: ``"keyed"`` (pywry: ``load(key)``, ``save(key, tokens)``,
    ``delete(key)``, optional ``exists``/``list_keys``), ``"get_set"`` (dhis2w: ``get(key)``,
    ``set(key, token)``, optional ``delete``/``list_keys``), ``"single"`` (cdse: ``load()``,
    ``save(tokens)``, ``clear()``), or ``None``."""

    def has(name: str) -> bool:
        return callable(getattr(store, name, None))

    if has("load") and has("save"):
        return "single" if _required_positional(store.load) == 0 else "keyed"
    if has("get") and has("set"):
        return "get_set"
    return None


def _required_positional(method: Callable[..., Any]) -> int:
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return 1  # a builtin without a signature: assume the key is its argument
    return sum(
        1
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    )


def has_method(store: Any, name: str) -> bool:
    return callable(getattr(store, name, None))


class _PrivateLoop:
    """One event loop on one daemon thread per process, for the stores' coroutines.

    Not the caller's loop: a sync ``header()`` may be called from inside a running loop,
    which would then wait on itself. A forked child gets a loop of its own (the parent's
    thread did not survive the fork)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def get(self) -> asyncio.AbstractEventLoop:
        with self._guard:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="latchkey-store-loop", daemon=True)
                thread.start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def after_fork(self) -> None:
        # The guard may have been held by a thread that does not exist in the child.
        self._guard = threading.Lock()
        self._loop = None


_LOOP = _PrivateLoop()
os.register_at_fork(after_in_child=_LOOP.after_fork)


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def call(store: Any, method: str, args: tuple[Any, ...], done: Callable[[Any], None]) -> Any:
    """Calls ``store.method(*args)``. A plain result is returned as ``(value,)``; an awaitable
    is run on the private loop and ``None`` is returned: ``done`` is called with the
    finished ``concurrent.futures.Future``."""
    result = getattr(store, method)(*args)
    if not inspect.isawaitable(result):
        return (result,)
    future: concurrent.futures.Future[Any] = asyncio.run_coroutine_threadsafe(_await(result), _LOOP.get())
    future.add_done_callback(done)
    return None


def to_record(value: Any) -> str:
    """What a store returned, as latchkey's stored record (JSON text). Raises ``ValueError``
    saying what is wrong, never quoting a value (it may be a token)."""
    fields = _as_mapping(value)
    if "version" in fields:
        return json.dumps(fields)  # latchkey's own record; the core checks it
    access = fields.get("access_token")
    if not isinstance(access, str) or not access:
        raise ValueError(f"{type(value).__name__} has no access_token string")
    issued = _seconds(fields.get("issued_at", fields.get("obtained_at")), "issued_at")
    expires = _seconds(fields.get("expires_at", fields.get("access_expiry")), "expires_at")
    if expires is None and fields.get("expires_in") is not None:
        lifetime = fields["expires_in"]
        if not isinstance(lifetime, int | float) or isinstance(lifetime, bool):
            raise ValueError("expires_in is not a number")
        expires = (time.time() if issued is None else issued) + float(lifetime)
    if issued is None:
        # Unknown (cdse and dhis2w keep only the expiry). "Now" would make a token that is
        # nearly due look newly issued, and the refresh margin is capped at half a token's
        # lifetime; the epoch means "long ago": the full margin applies.
        issued = 0.0 if expires is not None else time.time()
    obtained = issued
    refresh_expires = _seconds(
        fields.get("refresh_expires_at", fields.get("refresh_expiry")), "refresh_expires_at"
    )
    scopes = fields.get("scopes")
    if scopes is None:
        scope = fields.get("scope") or ""
        if not isinstance(scope, str):
            raise ValueError("scope is not a string")
        scopes = scope.split()
    if not isinstance(scopes, list | tuple) or not all(isinstance(s, str) for s in scopes):
        raise ValueError("scopes is not a list of strings")
    record: dict[str, Any] = {
        "version": 1,
        "access_token": access,
        "token_type": _optional_str(fields, "token_type") or "Bearer",
        "scopes": list(scopes),
        "obtained_at_ms": _ms(obtained),
    }
    for name in ("refresh_token", "id_token"):
        if (text := _optional_str(fields, name)) is not None:
            record[name] = text
    if expires is not None:
        record["expires_at_ms"] = _ms(expires)
    if refresh_expires is not None:
        record["refresh_expires_at_ms"] = _ms(refresh_expires)
    return json.dumps(record)


def _as_mapping(value: Any) -> dict[str, Any]:
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value).decode("utf-8", errors="strict")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise ValueError(f"not JSON ({e.msg} at position {e.pos})") from None
        if not isinstance(value, dict):
            raise ValueError(f"JSON {type(value).__name__}, not an object")
        return value
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "access_token"):
        # A token object (a pydantic model, a dataclass): its attributes, not `model_dump()`,
        # which some models mask (dhis2w's OAuth2Token does).
        return {name: getattr(value, name) for name in _FIELDS if hasattr(value, name)}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        dumped = dump()
        if isinstance(dumped, Mapping):
            return dict(dumped)
    raise ValueError(f"a {type(value).__name__} is not a token set")


def _optional_str(fields: dict[str, Any], name: str) -> str | None:
    text = fields.get(name)
    if text is not None and not isinstance(text, str):
        raise ValueError(f"{name} is not a string")
    return text or None


def _seconds(at: Any, name: str) -> float | None:
    """Unix seconds from a number, a `datetime` (naive means UTC) or ISO 8601 text."""
    if at is None:
        return None
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at)
        except ValueError:
            raise ValueError(f"{name} is not an ISO 8601 time") from None
    if isinstance(at, datetime):
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
    if isinstance(at, int | float) and not isinstance(at, bool):
        return float(at)
    raise ValueError(f"{name} is neither a number of seconds nor a time")


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))
