//! Setting profiles up: `profile add` refusing an unusable profile with every problem at
//! once, the guided `profile add` on a pseudo-terminal against the IdP fixture, the first
//! profile becoming the default, the message when there is no profile at all, and
//! `profile set|unset|edit`.
#![allow(
    clippy::disallowed_methods,
    reason = "tests write and read fixture files directly"
)]

use crate::support::{World, snapshot, text};

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test]
async fn profile_add_lists_every_problem_and_writes_nothing() {
    let world = World::new();
    let out = world
        .run(&["profile", "add", "dev", "--auth", "device-code"], &[])
        .await;
    snapshot!(world, "add_device_code_without_anything", out);
    let out = world
        .run(
            &[
                "profile",
                "add",
                "svc",
                "--auth",
                "client-credentials",
                "--issuer",
                "htps://idp.example",
                "--client-id",
                "svc",
                "--client-auth",
                "client_secret_post",
                "--base-url",
                "http://api.example",
                "--redirect-uri",
                "https://127.0.0.1/cb",
            ],
            &[],
        )
        .await;
    snapshot!(world, "add_bad_urls_and_missing_secret", out);
    assert!(
        !world.config.exists(),
        "nothing written: {}",
        read(&world.config)
    );
    // Without a terminal and without --auth: a usage error naming the flag.
    let out = world.run(&["profile", "add", "dev"], &[]).await;
    snapshot!(world, "add_without_auth_without_a_terminal", out);
}

#[tokio::test]
async fn every_field_has_a_flag() {
    let world = World::new();
    ok(&world
        .run(
            &[
                "profile",
                "add",
                "ms",
                "--auth",
                "client-credentials",
                "--preset",
                "microsoft",
                "--tenant",
                "contoso",
                "--client-id",
                "app",
                "--private-key-env",
                "KEY_PEM",
                "--key-id",
                "k1",
                "--audience",
                "https://api.example.org",
                "--login",
                "auto",
            ],
            &[],
        )
        .await);
    ok(&world
        .run(
            &[
                "profile",
                "add",
                "rt",
                "--auth",
                "refresh-token",
                "--token-url",
                "https://idp.example/token",
                "--client-id",
                "app",
                "--refresh-token-keyring",
                "rt-entry",
            ],
            &[],
        )
        .await);
    ok(&world
        .run(
            &[
                "profile",
                "add",
                "hdr",
                "--auth",
                "headers",
                "--header",
                "X-Api-Key=env:API_KEY",
                "--header",
                "X-Tenant=literal:acme",
            ],
            &[],
        )
        .await);
    ok(&world
        .run(
            &[
                "profile",
                "add",
                "q",
                "--auth",
                "query",
                "--query",
                "key=keyring:q-entry",
            ],
            &[],
        )
        .await);
    snapshot!(world, "profiles_file_every_flag", read(&world.config));
}

#[tokio::test]
async fn no_profile_at_all_says_how_to_add_one() {
    let world = World::new();
    for command in [&["token"][..], &["status"], &["doctor"], &["login"]] {
        let out = world.run(command, &[]).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{command:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("latchkey profile add NAME"),
            "{command:?}: {}",
            text(&out.stderr)
        );
    }
    let out = world.run(&["token"], &[]).await;
    snapshot!(world, "no_profiles_token", out);
}

#[tokio::test]
async fn the_first_profile_is_the_default_and_a_lone_profile_needs_no_selection() {
    let world = World::new();
    let out = world
        .run(
            &[
                "profile",
                "add",
                "api",
                "--auth",
                "bearer",
                "--token-env",
                "API_TOKEN",
            ],
            &[],
        )
        .await;
    snapshot!(world, "first_profile_added", out);
    ok(&world
        .run(
            &[
                "profile",
                "add",
                "other",
                "--auth",
                "bearer",
                "--token-env",
                "OTHER",
            ],
            &[],
        )
        .await);
    snapshot!(
        world,
        "first_profile_list",
        world.run(&["profile", "list"], &[]).await
    );
    // A file written by hand with one profile and no `default`: no selection needed.
    std::fs::write(
        &world.config,
        "[profiles.only]\nauth = \"bearer\"\ntoken = { env = \"ONLY\" }\n",
    )
    .unwrap();
    let out = world.run(&["token"], &[("ONLY", "only-token")]).await;
    assert_eq!(ok(&out).trim(), "only-token");
}

#[tokio::test]
async fn profile_set_and_unset_check_the_profile() {
    let world = World::new();
    ok(&world
        .run(
            &[
                "profile",
                "add",
                "svc",
                "--auth",
                "client-credentials",
                "--token-url",
                "https://idp.example/token",
                "--client-id",
                "svc",
            ],
            &[],
        )
        .await);
    let set = |args: &'static [&'static str]| {
        let world = &world;
        async move {
            let mut all = vec!["profile"];
            all.extend_from_slice(args);
            world.run(&all, &[]).await
        }
    };
    snapshot!(
        world,
        "set_scopes",
        set(&["set", "svc", "scopes", "a b"]).await
    );
    snapshot!(world, "set_typo", set(&["set", "svc", "scoeps", "a"]).await);
    snapshot!(
        world,
        "set_secret_without_source",
        set(&["set", "svc", "client_secret", "s3cret"]).await
    );
    snapshot!(
        world,
        "set_bad_url",
        set(&["set", "svc", "token_url", "htps://idp.example/token"]).await
    );
    ok(&set(&["set", "svc", "client_secret", "env:SVC_SECRET"]).await);
    snapshot!(
        world,
        "unset_needed_field",
        set(&["unset", "svc", "client_id"]).await
    );
    snapshot!(
        world,
        "set_unknown_profile",
        set(&["set", "svx", "scopes", "a"]).await
    );
    snapshot!(world, "profiles_file_after_set", read(&world.config));
}

/// An editor that runs `script` on the file it is given.
#[cfg(unix)]
fn editor(world: &World, name: &str, script: &str) -> String {
    let path = world.dir.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_owned()
}

#[cfg(unix)]
#[tokio::test]
async fn profile_edit_checks_the_file_before_saving_it() {
    let world = World::new();
    ok(&world
        .run(
            &[
                "profile",
                "add",
                "api",
                "--auth",
                "bearer",
                "--token-env",
                "API_TOKEN",
            ],
            &[],
        )
        .await);
    std::fs::write(
        &world.config,
        format!("# my profiles\n{}", read(&world.config)),
    )
    .unwrap();
    let before = read(&world.config);
    let bad = editor(
        &world,
        "bad-editor",
        r#"printf 'base_url = "ftp://api.example"\nusername = "x"\n' >> "$1""#,
    );
    let out = world
        .run(
            &["profile", "edit", "api"],
            &[("EDITOR", &bad), ("VISUAL", "")],
        )
        .await;
    snapshot!(world, "edit_invalid_refused", out);
    assert_eq!(read(&world.config), before, "the file is unchanged");

    let good = editor(
        &world,
        "good-editor",
        r#"printf 'base_url = "https://api.example"\n' >> "$1""#,
    );
    let out = world
        .run(
            &["profile", "edit", "api"],
            &[("EDITOR", &good), ("VISUAL", "")],
        )
        .await;
    snapshot!(world, "edit_saved", out);
    let after = read(&world.config);
    assert!(after.starts_with("# my profiles\n"), "{after}");
    assert!(
        after.contains("base_url = \"https://api.example\""),
        "{after}"
    );
}

/// The guided setup on a pseudo-terminal: a wrong issuer is asked again with the reason,
/// the grants offered come from discovery, and the login offered at the end runs the device
/// flow, approved as a person would.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guided_profile_add_on_a_terminal_ends_logged_in() {
    use latchkey_testkit::Idp;
    use latchkey_testkit::clients::{ALICE, NATIVE_APP};

    let idp = Idp::start().await;
    let world = World::new();
    let mut cmd = world.std_cmd();
    cmd.args(["profile", "add", "dev"]).env("TERM", "xterm");
    let issuer = idp.issuer().to_owned();
    let (url_tx, url_rx) = tokio::sync::oneshot::channel::<String>();
    let terminal = tokio::task::spawn_blocking(move || {
        let options = rexpect::reader::Options::new()
            .timeout_ms(Some(60_000))
            .strip_ansi_escape_codes(true);
        let mut p = rexpect::session::spawn_with_options(cmd, options).expect("spawn on a pty");
        let mut seen = String::new();
        let mut step = |p: &mut rexpect::session::PtySession, wait: &str, answer: &str| {
            let before = p
                .exp_string(wait)
                .unwrap_or_else(|e| panic!("waiting for {wait:?}: {e}\nso far: {seen}"));
            seen.push_str(&before);
            seen.push_str(wait);
            p.send(answer).unwrap();
            p.flush().unwrap();
        };
        step(&mut p, "Which identity provider?", "\r");
        step(&mut p, "Issuer URL", "http://127.0.0.1:1/nowhere\r");
        step(&mut p, "Discovery of http://127.0.0.1:1/nowhere failed", "");
        step(&mut p, "Issuer URL", &format!("{issuer}\r"));
        step(&mut p, "How will you log in?", "\r");
        step(&mut p, "Client id", &format!("{NATIVE_APP}\r"));
        step(&mut p, "where is it kept?", "\r");
        step(&mut p, "Scopes", "\r");
        step(&mut p, "Added profile `dev`", "");
        step(&mut p, "Log in to `dev` now?", "y");
        let (_, url) = p
            .exp_regex(r"http://127\.0\.0\.1:\d+/\S*user_code=[A-Za-z0-9-]+")
            .expect("the verification URL");
        url_tx.send(url).unwrap();
        let rest = p.exp_eof().expect("the login ends");
        let status = p.process_mut().wait().unwrap();
        (seen, rest, status)
    });
    let url = url_rx.await.expect("the login showed a URL");
    latchkey_testkit::person::approve_device(&url::Url::parse(&url).unwrap(), idp.issuer(), ALICE)
        .await;
    let (seen, rest, status) = terminal.await.unwrap();
    // nix's WaitStatus, which rexpect does not re-export: `Exited(Pid(…), 0)`.
    let status = format!("{status:?}");
    assert!(
        status.starts_with("Exited(") && status.ends_with(", 0)"),
        "{status}\n{seen}\n{rest}"
    );
    assert!(seen.contains("Check the URL and try again"), "{seen}");
    assert!(rest.contains("as `alice`"), "{rest}");
    snapshot!(
        world,
        "profiles_file_after_guided_setup",
        read(&world.config)
    );
    // The profile is the default and its tokens are stored: no further login.
    let token = ok(&world.run(&["token"], &[]).await);
    assert!(idp.is_active(token.trim()).await);
}

/// On a terminal an invalid edit is shown and offered again; declining leaves the file as it
/// was.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_edit_on_a_terminal_offers_the_copy_again() {
    let world = World::new();
    ok(&world
        .run(
            &[
                "profile",
                "add",
                "api",
                "--auth",
                "bearer",
                "--token-env",
                "API_TOKEN",
            ],
            &[],
        )
        .await);
    let before = read(&world.config);
    let bad = editor(
        &world,
        "bad-editor",
        r#"printf 'base_url = "ftp://api.example"\n' >> "$1""#,
    );
    let mut cmd = world.std_cmd();
    cmd.args(["profile", "edit", "api"])
        .env("EDITOR", &bad)
        .env_remove("VISUAL")
        .env("TERM", "xterm");
    let (shown, status) = tokio::task::spawn_blocking(move || {
        let options = rexpect::reader::Options::new()
            .timeout_ms(Some(30_000))
            .strip_ansi_escape_codes(true);
        let mut p = rexpect::session::spawn_with_options(cmd, options).expect("spawn on a pty");
        let shown = p
            .exp_string("Edit again?")
            .expect("the offer to edit again");
        p.send("n").unwrap();
        p.flush().unwrap();
        let rest = p.exp_eof().expect("the command ends");
        let status = p.process_mut().wait().unwrap();
        (format!("{shown}{rest}"), format!("{status:?}"))
    })
    .await
    .unwrap();
    assert!(shown.contains("`base_url` has the scheme `ftp`"), "{shown}");
    assert!(status.ends_with(", 2)"), "{status}\n{shown}");
    assert_eq!(read(&world.config), before, "the file is unchanged");
}
