//! Profile management beyond add/list/remove: project profiles (`.latchkey/profiles.toml`
//! on top of the user's file, tokens beside it), `profile rename` keeping the login,
//! `profile add --from-discovery`, `profile verify` against the identity provider's userinfo
//! and `fake_dhis2`'s `/api/me`, and the env-only OAuth profile.
#![allow(
    clippy::disallowed_methods,
    reason = "tests write and read fixture files directly"
)]

use latchkey_testkit::Idp;
use latchkey_testkit::clients::{ALICE, PW_CLIENT, SVC_BASIC, SVC_POST};
use latchkey_testkit::fake_dhis2::{self, ApiAnswer, Dhis2Options, FakeDhis2};

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

#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "the user's file is found through XDG_CONFIG_HOME here; Windows uses a known folder"
)]
async fn project_profiles_override_the_users_and_keep_their_tokens_beside_them() {
    let idp = Idp::start().await;
    let world = World::new();
    let project = world.dir.path().join("proj");
    let deep = project.join("src/module");
    std::fs::create_dir_all(&deep).unwrap();
    let token_url = idp.token_url();
    let service = [
        "--auth",
        "client-credentials",
        "--token-url",
        &token_url,
        "--client-id",
        SVC_POST.0,
        "--client-secret-env",
        "SVC_SECRET",
        "--client-auth",
        "client_secret_post",
    ];
    let run = |cwd, args: Vec<&str>| {
        let cwd: &std::path::Path = cwd;
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let world = &world;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            world
                .run_in(cwd, &args, &[("SVC_SECRET", SVC_POST.1)])
                .await
        }
    };
    // The user's file: `svc` (a bearer token) and `mine`.
    for name in ["svc", "mine"] {
        ok(&run(
            &project,
            vec![
                "profile",
                "add",
                name,
                "--auth",
                "bearer",
                "--token-env",
                "T",
            ],
        )
        .await);
    }
    // The project's: `svc` again, as the client-credentials profile, and the default.
    let mut add = vec!["profile", "add", "svc", "--project", "--default"];
    add.extend_from_slice(&service);
    ok(&run(&project, add).await);
    let dir = project.join(".latchkey");
    let ignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "*"), "{ignore}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.join("profiles.toml")), 0o600);
        assert_eq!(mode(&dir), 0o700);
    }
    let user_file = std::fs::read_to_string(world.user_config()).unwrap();
    assert!(!user_file.contains("client-credentials"), "{user_file}");

    // From a subdirectory, the project's `svc` wins and is the default.
    let list = run(&deep, vec!["profile", "list"]).await;
    snapshot!(world, "project_profile_list", list);
    let token = ok(&run(&deep, vec!["token"]).await);
    assert!(idp.is_active(token.trim()).await);
    // Its tokens live in the project folder, not in the user's state directory.
    assert!(dir.join("tokens/svc.json").is_file());
    assert!(!world.state.join("tokens/svc.json").exists());
    let again = ok(&run(&deep, vec!["-p", "svc", "token"]).await);
    assert_eq!(again, token);
    assert_eq!(idp.counters().await.token("client_credentials"), 1);

    // A profile only the project defines is changed with --project, not by accident.
    let mut add = vec!["profile", "add", "only-here", "--project"];
    add.extend_from_slice(&service);
    ok(&run(&project, add).await);
    let refused = run(&deep, vec!["profile", "remove", "only-here"]).await;
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("--project"));
    ok(&run(&deep, vec!["profile", "remove", "only-here", "--project"]).await);

    // LATCHKEY_CONFIG names the one file to read: no project file then.
    let mut explicit = world.tokio_cmd();
    explicit
        .env("LATCHKEY_CONFIG", world.user_config())
        .current_dir(&deep)
        .args(["profile", "list"]);
    let listed = ok(&explicit.output().await.unwrap());
    assert!(
        listed.contains("svc") && !listed.contains("project"),
        "{listed}"
    );
}

/// A project file that came with a checkout (not written by latchkey) is not used until the
/// user trusts it; a change to it needs a new trust.
#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "the user's file is found through XDG_CONFIG_HOME here; Windows uses a known folder"
)]
async fn a_checked_out_project_file_is_used_only_once_trusted() {
    let idp = Idp::start().await;
    let world = World::new();
    let project = world.dir.path().join("checkout");
    let dir = project.join(".latchkey");
    std::fs::create_dir_all(&dir).unwrap();
    let file = format!(
        "[profiles.ci]\nauth = \"client-credentials\"\ntoken_url = \"{}\"\nclient_id = \"{}\"\nclient_secret = {{ env = \"SVC_SECRET\" }}\nclient_auth = \"client_secret_post\"\n",
        idp.token_url(),
        SVC_POST.0
    );
    std::fs::write(dir.join("profiles.toml"), &file).unwrap();
    let env = [("SVC_SECRET", SVC_POST.1)];

    let refused = world.run_in(&project, &["-p", "ci", "token"], &env).await;
    assert_eq!(refused.status.code(), Some(2));
    snapshot!(world, "project_file_untrusted", refused);
    assert_eq!(
        idp.counters().await.token_total(),
        0,
        "nothing was sent for an untrusted file"
    );

    let trusted = world.run_in(&project, &["profile", "trust"], &[]).await;
    snapshot!(world, "project_file_trusted", trusted, r"sha256 [0-9a-f]{16}" => "sha256 [DIGEST]");
    ok(&world.run_in(&project, &["-p", "ci", "token"], &env).await);
    assert_eq!(idp.counters().await.token_total(), 1);

    // Changed after it was trusted: refused again, until trusted again.
    std::fs::write(dir.join("profiles.toml"), file.replace("ci]", "ci2]")).unwrap();
    let changed = world.run_in(&project, &["-p", "ci2", "token"], &env).await;
    assert_eq!(changed.status.code(), Some(2), "{}", text(&changed.stderr));
    assert!(text(&changed.stderr).contains("not trusted"));
    ok(&world.run_in(&project, &["profile", "trust"], &[]).await);
    ok(&world.run_in(&project, &["-p", "ci2", "token"], &env).await);
}

#[tokio::test]
async fn rename_keeps_comments_and_the_login() {
    let idp = Idp::start().await;
    let world = World::new();
    std::fs::create_dir_all(world.config.parent().unwrap()).unwrap();
    std::fs::write(
        &world.config,
        format!(
            "# our services\ndefault = \"svc\"\n\n# the nightly job's client\n[profiles.svc]   # keep me\nauth = \"client-credentials\"\ntoken_url = \"{}\"\nclient_id = \"{}\"\nclient_secret = {{ env = \"SVC_SECRET\" }}\nclient_auth = \"client_secret_post\"\n\n[profiles.other]\nauth = \"bearer\"\n",
            idp.token_url(),
            SVC_POST.0
        ),
    )
    .unwrap();
    let env = [("SVC_SECRET", SVC_POST.1)];
    let token = ok(&world.run(&["token"], &env).await);
    let renamed = world
        .run(&["profile", "rename", "svc", "nightly"], &env)
        .await;
    ok(&renamed);
    snapshot!(world, "profile_rename", renamed);
    let file = std::fs::read_to_string(&world.config).unwrap();
    snapshot!(world, "profiles_file_after_rename", file);
    // Still logged in: the stored token moved with the profile, no new grant.
    assert_eq!(
        ok(&world.run(&["-p", "nightly", "token"], &env).await),
        token
    );
    assert_eq!(
        ok(&world.run(&["token"], &env).await),
        token,
        "the default followed"
    );
    assert_eq!(idp.counters().await.token("client_credentials"), 1);
    assert!(world.state.join("tokens/nightly.json").is_file());
    assert!(!world.state.join("tokens/svc.json").exists());

    // Refusals leave the file alone.
    let taken = world
        .run(&["profile", "rename", "nightly", "other"], &[])
        .await;
    assert_eq!(taken.status.code(), Some(2));
    let typo = world.run(&["profile", "rename", "nihgtly", "x"], &[]).await;
    assert_eq!(typo.status.code(), Some(2));
    snapshot!(world, "profile_rename_typo", typo);
    assert_eq!(std::fs::read_to_string(&world.config).unwrap(), file);
}

#[tokio::test]
async fn add_from_discovery_writes_the_endpoints_or_nothing() {
    let idp = Idp::start().await;
    let world = World::new();
    let out = world
        .run(
            &[
                "profile",
                "add",
                "dev",
                "--auth",
                "authorization-code",
                "--client-id",
                "native-app",
                "--from-discovery",
                idp.issuer(),
            ],
            &[],
        )
        .await;
    ok(&out);
    let file = std::fs::read_to_string(&world.config).unwrap();
    snapshot!(world, "profiles_file_from_discovery", file);
    // The written profile works without discovery's help: the endpoints are in the file.
    let text_of = |field: &str| file.lines().any(|l| l.starts_with(field));
    for field in [
        "issuer",
        "token_url",
        "authorization_url",
        "device_authorization_url",
        "revocation_url",
    ] {
        assert!(text_of(field), "{field}: {file}");
    }

    let bad = world
        .run(
            &[
                "profile",
                "add",
                "broken",
                "--auth",
                "client-credentials",
                "--from-discovery",
                &idp.url("/not-an-issuer"),
            ],
            &[],
        )
        .await;
    assert!(!bad.status.success());
    snapshot!(world, "profile_add_from_discovery_fails", bad);
    assert_eq!(std::fs::read_to_string(&world.config).unwrap(), file);
}

#[tokio::test]
async fn verify_reports_who_the_identity_provider_says_you_are() {
    let idp = Idp::start().await;
    let world = World::new();
    let issuer = idp.issuer().to_owned();
    world
        .add_profile(&[
            "profile",
            "add",
            "alice",
            "--auth",
            "password",
            "--issuer",
            &issuer,
            "--client-id",
            PW_CLIENT,
            "--username",
            ALICE.0,
            "--password-env",
            "ALICE_PW",
            "--scope",
            "openid profile email",
        ])
        .await;
    let out = world
        .run(&["profile", "verify", "alice"], &[("ALICE_PW", ALICE.1)])
        .await;
    assert_eq!(
        ok(&out),
        "name: Alice Example\nemail: alice@example.org\nsub: alice\n"
    );
    snapshot!(world, "profile_verify_userinfo", out);
    assert_eq!(idp.counters().await.endpoint("userinfo"), 1);
}

fn dhis2_world(fake: &FakeDhis2) -> World {
    let world = World::new();
    std::fs::create_dir_all(world.config.parent().unwrap()).unwrap();
    std::fs::write(
        &world.config,
        format!(
            "[profiles.d2]\nauth = \"client-credentials\"\npreset = \"dhis2\"\nbase_url = \"{}\"\nclient_id = \"{}\"\nclient_secret = {{ env = \"D2_SECRET\" }}\nstore = \"memory\"\n",
            fake.base_url(),
            fake_dhis2::CLIENT.0
        ),
    )
    .unwrap();
    world
}

#[tokio::test]
async fn verify_asks_dhis2_api_me_and_explains_a_refusal() {
    let secret = ("D2_SECRET", fake_dhis2::CLIENT.1);
    let fake = FakeDhis2::start(Dhis2Options::default());
    let world = dhis2_world(&fake);
    let out = world.run(&["profile", "verify", "d2"], &[secret]).await;
    assert_eq!(ok(&out), "username: admin\nname: admin admin\n");
    assert_eq!(fake.count("GET", "/api/me"), 1);
    snapshot!(world, "profile_verify_dhis2", out);

    let refusing = FakeDhis2::start(Dhis2Options {
        api: ApiAnswer::UnmappedUser {
            claim: "email".into(),
            value: "svc@example.org".into(),
        },
        ..Dhis2Options::default()
    });
    let world = dhis2_world(&refusing);
    let out = world.run(&["profile", "verify", "d2"], &[secret]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    snapshot!(world, "profile_verify_dhis2_refused", out);
}

#[tokio::test]
async fn an_env_only_oauth_profile_needs_no_file() {
    let idp = Idp::start().await;
    let world = World::new();
    let issuer = idp.issuer().to_owned();
    let vars = [
        ("LATCHKEY_ISSUER", issuer.as_str()),
        ("LATCHKEY_CLIENT_ID", SVC_BASIC.0),
        ("LATCHKEY_CLIENT_SECRET", SVC_BASIC.1),
        ("LATCHKEY_SCOPES", "api:read"),
    ];
    let token = ok(&world.run(&["token"], &vars).await);
    assert!(idp.is_active(token.trim()).await);
    assert_eq!(idp.counters().await.by_client(SVC_BASIC.0), 1);
    assert!(!world.config.exists(), "no file was needed or written");

    // An explicit token endpoint and client_secret_post, with the default grant spelled out.
    let token_url = idp.token_url();
    let post = [
        ("LATCHKEY_TOKEN_URL", token_url.as_str()),
        ("LATCHKEY_CLIENT_ID", SVC_POST.0),
        ("LATCHKEY_CLIENT_SECRET", SVC_POST.1),
        ("LATCHKEY_CLIENT_AUTH", "client_secret_post"),
        ("LATCHKEY_GRANT", "client-credentials"),
    ];
    let token = ok(&world.run(&["token"], &post).await);
    assert!(idp.is_active(token.trim()).await);

    // What is missing is named, as for a file profile.
    let out = world.run(&["token"], &vars[..1]).await;
    assert_eq!(out.status.code(), Some(2));
    snapshot!(world, "env_only_oauth_missing_client_id", out);
}
