"""`latchkey.profile("svc")` reads the CLI's profiles.toml and token store: a Python process
and `latchkey token` share the tokens, and refresh once between them."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import latchkey
from latchkey import errors

from .conftest import ROOT, Idp


def cli() -> str | None:
    """The `latchkey` binary: $LATCHKEY_TEST_CLI (scripts/test.sh sets it), else one on
    PATH, else the workspace's debug build."""
    for candidate in (
        os.environ.get("LATCHKEY_TEST_CLI"),
        shutil.which("latchkey"),
        str(ROOT / "target" / "debug" / "latchkey"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture
def profiles(idp: Idp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    config = tmp_path / "profiles.toml"
    config.write_text(
        f"""default = "svc"
[profiles.svc]
auth = "client-credentials"
token_url = "{idp.token_url}"
client_id = "svc-post"
client_secret = {{ env = "SVC_SECRET" }}
client_auth = "client_secret_post"
store = "file"

[profiles.dhis2]
auth = "api-token"
base_url = "https://play.example.org"
token = {{ env = "D2_TOKEN" }}
"""
    )
    env = {
        "LATCHKEY_CONFIG": str(config),
        "LATCHKEY_STATE_DIR": str(tmp_path / "state"),
        "SVC_SECRET": "post-secret-123",
        "D2_TOKEN": "d2p_abc",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LATCHKEY_PROFILE", raising=False)
    yield config


def test_profile_tokens_are_shared_with_the_cli(idp: Idp, profiles: Path) -> None:
    binary = cli()
    if binary is None:
        pytest.skip("no latchkey CLI binary (set LATCHKEY_TEST_CLI)")
    manager = latchkey.profile("svc")
    assert isinstance(manager, latchkey.TokenManager)
    header = manager.header()

    def cli_token() -> str:
        out = subprocess.run([binary, "-q", "-p", "svc", "token"], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    assert header == "Bearer " + cli_token()  # the CLI reads what Python stored
    assert idp.token_requests() == 1
    manager.invalidate(header)  # Python refreshes; the CLI sees the new token
    assert cli_token() == manager.header().removeprefix("Bearer ")
    assert idp.token_requests() == 2


def test_profile_default_and_static_profiles(idp: Idp, profiles: Path) -> None:
    assert latchkey.profile().header().startswith("Bearer ")  # the file's default
    dhis2 = latchkey.profile("dhis2")
    assert isinstance(dhis2, latchkey.StaticAuth)
    assert dhis2.header() == "ApiToken d2p_abc"


def test_unknown_profile_is_a_config_error_with_a_cli_hint(profiles: Path) -> None:
    with pytest.raises(errors.ConfigError) as caught:
        latchkey.profile("svx")
    assert "svx" in str(caught.value) and caught.value.hint == "did you mean `svc`?"
