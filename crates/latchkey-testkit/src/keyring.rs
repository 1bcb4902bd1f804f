//! GNOME Keyring in a private D-Bus session, for tests that need a real Secret Service.
//!
//! Run `timeout` with [`session_args`] and [`session_env`]: the script runs with the keyring
//! unlocked (throwaway password) and goes away with the session.

use std::path::{Path, PathBuf};

/// Whether `dbus-run-session` and `gnome-keyring-daemon` are installed. Where
/// `LATCHKEY_REQUIRE_KEYRING` is set (`scripts/test.sh` installs both), a missing program
/// fails the calling test instead of letting it skip.
pub fn session_tools_installed() -> bool {
    let installed = on_path("dbus-run-session") && on_path("gnome-keyring-daemon");
    assert!(
        installed || std::env::var_os("LATCHKEY_REQUIRE_KEYRING").is_none(),
        "dbus-run-session and gnome-keyring-daemon are required (apt install dbus gnome-keyring)"
    );
    if !installed {
        eprintln!("skipped: dbus-run-session or gnome-keyring-daemon not installed");
    }
    installed
}

/// Arguments for `timeout`: a 120 s limit, a new D-Bus session, GNOME Keyring started and
/// unlocked in it, then `sh -c script` (extra arguments the caller adds become `$0`, `$1`…).
pub fn session_args(script: &str) -> Vec<String> {
    let script = format!(
        "printf throwaway | gnome-keyring-daemon --unlock --components=secrets >/dev/null \
         && {script}"
    );
    ["120", "dbus-run-session", "--", "sh", "-c", &script]
        .map(str::to_owned)
        .into()
}

/// The environment that keeps the keyring's files and sockets under `dir`.
pub fn session_env(dir: &Path) -> [(&'static str, PathBuf); 3] {
    [
        ("HOME", dir.to_owned()),
        ("XDG_DATA_HOME", dir.join("data")),
        ("XDG_RUNTIME_DIR", dir.to_owned()),
    ]
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}
