//! Project profiles through the library: the project file on top of the user's, a project
//! profile's store in the project folder, and `profile::rename` moving stored tokens.
#![allow(
    clippy::disallowed_methods,
    reason = "tests write their profiles files directly"
)]

use std::path::Path;
use std::time::SystemTime;

use latchkey::profile::{self, Origin, Paths, ProfilesFile, TokensMoved};
use latchkey::{ExposeSecret, SecretString, TokenSet};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Paths as the CLI finds them from `cwd` (no `LATCHKEY_CONFIG`, so the project file is
/// searched for), with the user's file and state under `home`.
fn paths(home: &Path, cwd: &Path) -> Paths {
    let state = home.join("state");
    let vars = move |name: &str| {
        (name == "LATCHKEY_STATE_DIR").then(|| state.to_string_lossy().into_owned())
    };
    let mut found = Paths::from_env_in(&vars, Some(cwd)).unwrap();
    // The user's file is the one this test wrote, wherever the platform's config dir is.
    found.config = home.join("xdg/latchkey/profiles.toml");
    found
}

fn tokens(access: &str) -> TokenSet {
    TokenSet::new(SecretString::from(access), SystemTime::now())
}

#[tokio::test]
async fn the_project_file_overrides_and_keeps_its_tokens_in_the_project_folder() {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("home");
    let project = root.path().join("repo");
    let cwd = project.join("deep/down");
    std::fs::create_dir_all(&cwd).unwrap();
    write(
        &home.join("xdg/latchkey/profiles.toml"),
        "default = \"mine\"\n[profiles.svc]\nauth = \"bearer\"\n[profiles.mine]\nauth = \"bearer\"\n",
    );
    write(
        &project.join(".latchkey/profiles.toml"),
        "default = \"svc\"\n[profiles.svc]\nauth = \"client-credentials\"\ntoken_url = \"https://idp.example.org/token\"\nclient_id = \"svc\"\n",
    );
    let paths = paths(&home, &cwd);
    assert_eq!(paths.project, Some(project.join(".latchkey")));
    profile::project::trust(&paths, &project.join(".latchkey/profiles.toml")).unwrap();
    let all = ProfilesFile::load_all(&paths).unwrap();
    assert_eq!(all.names(), ["mine", "svc"]);
    assert_eq!(
        all.default.as_deref(),
        Some("svc"),
        "the project's default wins"
    );
    assert_eq!(all.origin("svc"), Origin::Project);
    assert_eq!(all.origin("mine"), Origin::User);
    assert_eq!(
        all.profiles["svc"].auth,
        profile::AuthKind::ClientCredentials
    );

    let svc = profile::select(&all, None, &|_| None).unwrap();
    assert_eq!(svc.origin, Origin::Project);
    let store = svc.open_store(&paths, &|_| None).await.unwrap();
    store.save("svc", &tokens("project-token")).await.unwrap();
    assert!(project.join(".latchkey/tokens/svc.json").is_file());
    assert!(!home.join("state/tokens/svc.json").exists());
    let found = svc
        .stored_tokens_now(&paths)
        .expect("read back without a runtime");
    assert_eq!(found.access_token().expose_secret(), "project-token");

    // Renaming the project profile moves its tokens within the project folder.
    let moved = profile::rename(&paths, Origin::Project, "svc", "ci", &|_| None)
        .await
        .unwrap();
    assert!(matches!(moved, TokensMoved::Moved(_)), "{moved:?}");
    assert!(project.join(".latchkey/tokens/ci.json").is_file());
    assert!(!project.join(".latchkey/tokens/svc.json").exists());
    let all = ProfilesFile::load_all(&paths).unwrap();
    assert_eq!(all.origin("ci"), Origin::Project);
    assert_eq!(all.default.as_deref(), Some("ci"));
    // The user's `svc` shows through again.
    assert_eq!(all.origin("svc"), Origin::User);

    // Nothing stored under the old name: tokens a removed profile left under the new name
    // are not handed to the renamed one.
    store.delete("ci").await.unwrap();
    store.save("later", &tokens("someone-elses")).await.unwrap();
    let moved = profile::rename(&paths, Origin::Project, "ci", "later", &|_| None)
        .await
        .unwrap();
    assert_eq!(moved, TokensMoved::NoneStored);
    assert!(store.load("later").await.unwrap().is_none());

    // A static profile has no tokens to move; a taken name is refused.
    let moved = profile::rename(&paths, Origin::User, "mine", "yours", &|_| None)
        .await
        .unwrap();
    assert_eq!(moved, TokensMoved::NotKept);
    let err = profile::rename(&paths, Origin::User, "yours", "svc", &|_| None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is taken"), "{err}");
    // Taken in the other file counts too: the project's `later` blocks the user's rename.
    let err = profile::rename(&paths, Origin::User, "yours", "later", &|_| None)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("is taken") && message.contains(".latchkey"),
        "{message}"
    );
}

/// A checkout's project file decides where its profiles send credentials: until the user
/// trusts its exact content it is not used, and a profile named like the user's is not
/// replaced by it.
#[tokio::test]
async fn an_untrusted_or_changed_project_file_is_not_used() {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("home");
    let project = root.path().join("repo");
    std::fs::create_dir_all(&project).unwrap();
    write(
        &home.join("xdg/latchkey/profiles.toml"),
        "default = \"work\"\n[profiles.work]\nauth = \"client-credentials\"\ntoken_url = \"https://idp.example.org/token\"\nclient_id = \"work\"\nclient_secret = { env = \"WORK_SECRET\" }\n",
    );
    let hostile = "default = \"work\"\n[profiles.work]\nauth = \"client-credentials\"\ntoken_url = \"https://attacker.example/token\"\nclient_id = \"work\"\nclient_secret = { env = \"WORK_SECRET\" }\n[profiles.extra]\nauth = \"bearer\"\n";
    let file = project.join(".latchkey/profiles.toml");
    write(&file, hostile);
    let paths = paths(&home, &project);

    let all = ProfilesFile::load_all(&paths).unwrap();
    assert_eq!(all.origin("work"), Origin::User);
    assert_eq!(
        all.profiles["work"].token_url.as_deref(),
        Some("https://idp.example.org/token"),
        "the user's profile is not replaced"
    );
    let untrusted = all.untrusted_project.as_ref().expect("named as untrusted");
    assert_eq!(untrusted.names, ["extra", "work"]);
    // A profile only the project defines is refused with what to do.
    let err = profile::select(&all, Some("extra"), &|_| None).unwrap_err();
    assert!(err.to_string().contains("not trusted"), "{err}");
    assert!(
        err.hint().unwrap().contains("latchkey profile trust"),
        "{:?}",
        err.hint()
    );

    // Trusted: used.
    profile::project::trust(&paths, &file).unwrap();
    let all = ProfilesFile::load_all(&paths).unwrap();
    assert!(all.untrusted_project.is_none());
    assert_eq!(all.origin("work"), Origin::Project);
    assert_eq!(all.origin("extra"), Origin::Project);

    // Changed behind the user's back: not used until trusted again.
    write(&file, &hostile.replace("extra", "more"));
    let all = ProfilesFile::load_all(&paths).unwrap();
    assert_eq!(all.origin("work"), Origin::User);
    assert!(all.untrusted_project.is_some());

    // latchkey's own edit of a trusted file keeps it trusted; of an untrusted one, not.
    profile::project::trust(&paths, &file).unwrap();
    profile::rename(&paths, Origin::Project, "more", "renamed", &|_| None)
        .await
        .unwrap();
    let all = ProfilesFile::load_all(&paths).unwrap();
    assert_eq!(all.origin("renamed"), Origin::Project);
    write(&file, hostile);
    profile::project::change_trusted(&paths, &file, || Ok(())).unwrap();
    let all = ProfilesFile::load_all(&paths).unwrap();
    assert!(
        all.untrusted_project.is_some(),
        "an edit does not trust what it did not write"
    );
}

#[test]
fn an_explicit_config_file_turns_project_discovery_off() {
    let root = tempfile::tempdir().unwrap();
    write(&root.path().join(".latchkey/profiles.toml"), "");
    let config = root.path().join("mine.toml");
    let state = root.path().join("state");
    let vars = |name: &str| match name {
        "LATCHKEY_CONFIG" => Some(config.to_string_lossy().into_owned()),
        "LATCHKEY_STATE_DIR" => Some(state.to_string_lossy().into_owned()),
        _ => None,
    };
    let paths = Paths::from_env_in(&vars, Some(root.path())).unwrap();
    assert_eq!(paths.project, None);
    assert_eq!(paths.config, config);
}
