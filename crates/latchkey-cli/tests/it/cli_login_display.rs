//! What `login` shows, against the real identity provider fixture: the device code's
//! prompt without a terminal (plain lines and the code's deadline; the QR code, bold code
//! and countdown need a terminal and are unit-tested in `commands/device_prompt.rs`), and a
//! browser opened through `$BROWSER` on a machine without a display.
#![allow(
    clippy::disallowed_methods,
    reason = "tests write a fake browser script, bypassing the private-file helper"
)]

use std::time::Duration;

use latchkey_testkit::Idp;
use latchkey_testkit::clients::{ALICE, NATIVE_APP};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{World, snapshot, text};

async fn add_profile(world: &World, idp: &Idp, auth: &str) {
    world
        .add_profile(&[
            "profile",
            "add",
            "me",
            "--auth",
            auth,
            "--issuer",
            idp.issuer(),
            "--client-id",
            NATIVE_APP,
            "--scope",
            "openid offline_access",
            "--default",
        ])
        .await;
}

#[tokio::test]
async fn device_login_without_a_terminal_shows_plain_lines_and_the_deadline() {
    let idp = Idp::start().await;
    let world = World::new();
    add_profile(&world, &idp, "device-code").await;
    let mut login = world.tokio_cmd();
    login
        .args(["login", "--device"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = login.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut stderr = String::new();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the CLI printed the verification URL")
            .unwrap()
            .unwrap_or_else(|| panic!("stderr ended before a URL: {stderr}"));
        stderr.push_str(&line);
        stderr.push('\n');
        if let Some(url) = line.split_whitespace().find(|w| w.contains("user_code=")) {
            break url::Url::parse(url).unwrap();
        }
    };
    latchkey_testkit::person::approve_device(&url, idp.issuer(), ALICE).await;
    while let Some(line) = lines.next_line().await.unwrap() {
        stderr.push_str(&line);
        stderr.push('\n');
    }
    let status = child.wait().await.unwrap();
    assert!(status.success(), "{stderr}");
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "user_code")
        .unwrap()
        .1
        .into_owned();
    assert!(
        stderr.contains(&format!("enter the code {code})")),
        "{stderr}"
    );
    assert!(!stderr.contains("clipboard"), "{stderr}");
    assert!(
        !stderr.contains('\x1b'),
        "no styling without a terminal: {stderr}"
    );
    snapshot!(
        world,
        "device_login_plain",
        format!("exit_code: {}\n{stderr}", status.code().unwrap()),
        crate::support::regex_escape(&code) => "[USER_CODE]",
    );
}

/// On a terminal (a pseudo-terminal from util-linux `script`): the QR code, the code in
/// bold, and the countdown line.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn device_login_on_a_terminal_shows_a_qr_code_and_counts_down() {
    if !std::path::Path::new("/usr/bin/script").is_file() {
        eprintln!("util-linux `script` not found; skipped");
        return;
    }
    let idp = Idp::start().await;
    let world = World::new();
    add_profile(&world, &idp, "device-code").await;
    let mut login = world.tokio_cmd_of("/usr/bin/script");
    login
        .args([
            "-qec",
            &format!("{} login --device", crate::support::bin()),
            "/dev/null",
        ])
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = login.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let shown = tokio::time::timeout(Duration::from_secs(30), async {
        use tokio::io::AsyncReadExt as _;
        let mut buf = [0u8; 4096];
        loop {
            let n = out.read(&mut buf).await.unwrap();
            assert!(n > 0, "the terminal closed: {}", text(&seen));
            seen.extend_from_slice(&buf[..n]);
            let shown = text(&seen);
            if shown.contains("the code expires in 9:") {
                break shown;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no countdown on the terminal: {}", text(&seen)));
    child.kill().await.unwrap();
    assert!(shown.contains("Scan this QR code"), "{shown}");
    assert!(
        shown.contains("▀▀▀▀▀▀▀▀▀▀"),
        "a QR code in half-blocks: {shown}"
    );
    assert!(
        shown.contains("enter the code \x1b[1m"),
        "the code in bold: {shown}"
    );
    assert!(
        !shown.contains("The code expires in"),
        "no one-off line: {shown}"
    );
    let (_, after_prompt) = shown.split_once("Scan this QR code").unwrap();
    assert!(
        !after_prompt.contains("waiting for the login to complete"),
        "the countdown replaces the plain spinner once the code is shown: {shown}"
    );
}

/// On Linux and the BSDs a browser needs a display, unless `$BROWSER` names one: here a
/// script standing in for a text browser records the URL, and the test's person logs in.
#[cfg(all(unix, not(target_os = "macos")))]
#[tokio::test]
async fn browser_variable_opens_the_login_without_a_display() {
    use std::os::unix::fs::PermissionsExt as _;

    let idp = Idp::start().await;
    let world = World::new();
    add_profile(&world, &idp, "authorization-code").await;
    let opened = world.dir.path().join("opened-url");
    let browser = world.dir.path().join("browser.sh");
    std::fs::write(
        &browser,
        format!(
            "#!/bin/sh\nprintf '%s' \"$1\" > {}.tmp && mv {0}.tmp {0}\n",
            opened.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut login = world.tokio_cmd();
    login
        .arg("login")
        .env_remove("LATCHKEY_NO_BROWSER")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("BROWSER", &browser)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = login.spawn().unwrap();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(url) = std::fs::read_to_string(&opened) {
                break url;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("latchkey ran $BROWSER with the login URL");
    let url = url::Url::parse(&url).unwrap();
    let agent = latchkey_testkit::person::UserAgent::new();
    let redirect = agent
        .log_in_and_consent(&url, idp.issuer(), ALICE)
        .await
        .expect_err("the IdP redirects to the CLI's loopback receiver");
    assert!(agent.get(&redirect).await.status.is_success());
    let out = child.wait_with_output().await.unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(url.as_str()),
        "the URL is shown too: {stderr}"
    );
    snapshot!(
        world,
        "browser_variable_login",
        out,
        r"/auth\?\S+" => "/auth?[QUERY]",
    );
}
