"""Process-level behaviour: a forked child gets a working runtime; Ctrl-C interrupts a
waiting login."""

from __future__ import annotations

import _thread
import os
import signal
import threading
import time

import pytest

import latchkey

from .conftest import Idp, wait_for_child


def test_forked_child_refreshes_with_a_runtime_of_its_own(idp: Idp) -> None:
    manager = latchkey.TokenManager(
        latchkey.ClientCredentialsAuth("svc-post", "post-secret-123"),
        token_url=idp.token_url,
        client_auth="post",
    )
    parent_header = manager.header()  # the parent's runtime and connection pool are in use
    pid = os.fork()
    if pid == 0:  # the child: must not hang on the parent's runtime
        code = 1
        try:
            assert manager.header() == parent_header  # the fast path needs no runtime
            manager.invalidate(parent_header)  # the network, through the child's runtime
            code = 0 if manager.header() != parent_header else 2
        finally:
            os._exit(code)
    assert wait_for_child(pid) == 0
    assert idp.token_requests() == 2
    # The parent still works.
    manager.invalidate()
    assert manager.header().startswith("Bearer ")


def test_ctrl_c_interrupts_a_waiting_login(idp: Idp) -> None:
    # A shell starts background jobs with SIGINT ignored, and then interrupt_main() does
    # nothing: install Python's own handler, as an interactive program has it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    # If the interrupt were lost, the login fails when the device code expires instead of
    # hanging the suite.
    idp.admin("POST", "/ttl", {"DeviceCode": 10})
    prompts: list[tuple[str, str, str | None]] = []
    manager = latchkey.TokenManager(
        latchkey.DeviceCodeAuth(
            idp.issuer + "/device/auth",
            client_id="native-app",
            on_prompt=lambda uri, code, complete: prompts.append((uri, code, complete)),
        ),
        token_url=idp.token_url,
    )
    # Nobody approves the device code: login() would poll for minutes.
    threading.Timer(1.0, _thread.interrupt_main).start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            manager.login()
    finally:
        signal.signal(signal.SIGINT, previous)
        idp.admin("POST", "/ttl/reset")
    assert time.monotonic() - started < 3.0
    assert prompts and prompts[0][1], "the prompt callback saw the user code"
