//! `--store keyring` through the CLI, against GNOME Keyring in a private D-Bus session and
//! the identity provider fixture: the token is fetched once, kept in the keyring (not in a
//! file), served from it by the next process, and removed by `logout`.

use latchkey_testkit::clients::SVC_POST;
use latchkey_testkit::{Idp, keyring};
use serde_json::Value;

use crate::support::{World, bin, text};

#[tokio::test]
async fn keyring_store_keeps_the_token_for_the_next_process() {
    if !keyring::session_tools_installed() {
        return;
    }
    let idp = Idp::start().await;
    let world = World::new();
    world
        .add_service_profile(
            &idp,
            "svc",
            &["--scope", "api:read", "--store", "keyring", "--default"],
        )
        .await;

    // Each step is its own process; a blank line separates their outputs. After the logout,
    // `status` exits 1 (not logged in): the script checks that code.
    let script = r#""$0" token && echo && "$0" token && echo && "$0" status --json && echo \
        && "$0" -q logout && { "$0" status --json 2>/dev/null; [ $? -eq 1 ]; }"#;
    let out = world
        .tokio_cmd_of("timeout")
        .args(keyring::session_args(script))
        .arg(bin())
        .envs(keyring::session_env(world.dir.path()))
        .env("SVC_SECRET", SVC_POST.1)
        .output()
        .await
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status.code(),
        text(&out.stderr)
    );
    let parts: Vec<&str> = stdout.split("\n\n").collect();
    assert_eq!(parts.len(), 4, "{stdout}");
    let (first, second) = (parts[0].trim(), parts[1].trim());
    assert!(
        !first.is_empty() && !first.contains(char::is_whitespace),
        "{first}"
    );
    assert_eq!(
        first, second,
        "the second process must reuse the stored token"
    );
    assert_eq!(idp.counters().await.token("client_credentials"), 1);

    let status: Value = serde_json::from_str(parts[2]).expect("status --json");
    assert_eq!(status["store"], "keyring:latchkey", "{status}");
    assert_eq!(status["logged_in"], true, "{status}");
    let after: Value = serde_json::from_str(parts[3]).expect("status --json after logout");
    assert_eq!(
        after["logged_in"], false,
        "logout must remove the token: {after}"
    );

    // Nothing was written beside the keyring: the token never touched the disk.
    let tokens = world.state.join("tokens");
    let files = std::fs::read_dir(&tokens).map_or(0, |dir| dir.count());
    assert_eq!(files, 0, "files in {}", tokens.display());
}
