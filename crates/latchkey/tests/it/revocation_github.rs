//! GitHub's token revocation (the `github` preset's `RevokeViaDeleteApplicationToken`
//! quirk) against `fake_github_app_token_api`: the client call, and `logout` of a profile
//! that names the preset, which is what `latchkey logout --revoke` runs.

use latchkey::{ClientAuth, Error, OAuthClient, RevocationMethod, SecretString};

use crate::support::fake_github::fake_github_app_token_api;

const CLIENT_ID: &str = "Iv1.fake0client";
const SECRET: &str = "fake-github-secret";

fn github_client(base: &str, secret: &str) -> OAuthClient {
    OAuthClient::builder(CLIENT_ID)
        .auth(ClientAuth::SecretPost(secret.into()))
        .token_url(format!("{base}/login/oauth/access_token"))
        .revocation_url(format!("{base}/applications/{CLIENT_ID}/token"))
        .revocation_method(RevocationMethod::GitHubAppToken)
        .build()
        .unwrap()
}

#[tokio::test]
async fn github_revocation_deletes_the_app_token_with_basic_credentials() {
    let (base, seen) = fake_github_app_token_api(CLIENT_ID, SECRET, &["gho_live"]).await;
    let client = github_client(&base, SECRET);
    client
        .revoke(&SecretString::from("gho_live"), "access_token")
        .await
        .expect("204 is success");
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].client_id, CLIENT_ID);
        assert_eq!(
            seen[0].basic.as_deref(),
            Some(format!("{CLIENT_ID}:{SECRET}").as_str())
        );
        assert_eq!(seen[0].content_type.as_deref(), Some("application/json"));
        assert_eq!(
            seen[0].body,
            serde_json::json!({"access_token": "gho_live"})
        );
    }

    // Revoked already: GitHub no longer knows it and says 422.
    let err = client
        .revoke(&SecretString::from("gho_live"), "access_token")
        .await
        .unwrap_err();
    match &err {
        Error::Provider(p) => {
            assert_eq!((p.status, p.error.as_str()), (422, "Validation Failed"));
            assert!(
                p.uri
                    .as_deref()
                    .is_some_and(|u| u.contains("docs.github.com"))
            );
        }
        other => panic!("expected GitHub's refusal, got {other:?}"),
    }
    assert!(!err.to_string().contains("gho_live"), "{err}");
    assert!(!err.is_retryable());

    // Wrong client secret: 404, and the error names neither secret nor token.
    let err = github_client(&base, "wrong-secret")
        .revoke(&SecretString::from("gho_other"), "access_token")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Provider(p) if p.status == 404 && p.error == "Not Found"),
        "{err:?}"
    );
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains("wrong-secret") && !shown.contains("gho_other"),
        "{shown}"
    );

    // The API takes access tokens only: a refresh token is never sent.
    client
        .revoke(&SecretString::from("ghr_refresh"), "refresh_token")
        .await
        .expect("skipped");
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn github_revocation_needs_the_client_secret() {
    let (base, seen) = fake_github_app_token_api(CLIENT_ID, SECRET, &["gho_live"]).await;
    let client = OAuthClient::builder(CLIENT_ID)
        .token_url(format!("{base}/login/oauth/access_token"))
        .revocation_url(format!("{base}/applications/{CLIENT_ID}/token"))
        .revocation_method(RevocationMethod::GitHubAppToken)
        .build()
        .unwrap();
    let err = client
        .revoke(&SecretString::from("gho_live"), "access_token")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("client_secret")),
        "{err:?}"
    );
    assert!(seen.lock().unwrap().is_empty());
}

/// Issue 18 item 8: a `github` profile's logout used to say there was no revocation
/// endpoint. Now the preset's quirk selects GitHub's API and logout revokes the access
/// token there.
#[cfg(feature = "profiles")]
#[tokio::test]
async fn logout_of_a_github_profile_revokes_through_the_app_token_api() {
    use std::sync::Arc;
    use std::time::SystemTime;

    use latchkey::profile::{LoginOptions, ProfilesFile, select};
    use latchkey::{MemoryStore, TokenSet, TokenStore};

    let (base, seen) = fake_github_app_token_api(CLIENT_ID, SECRET, &["gho_held"]).await;
    let text = format!(
        r#"
[profiles.gh]
preset = "github"
auth = "authorization-code"
client_id = "{CLIENT_ID}"
client_secret = {{ env = "GH_SECRET" }}
revocation_url = "{base}/applications/{CLIENT_ID}/token"
"#
    );
    let file = ProfilesFile::parse(std::path::Path::new("profiles.toml"), &text).unwrap();
    let env = |name: &str| (name == "GH_SECRET").then(|| SECRET.to_owned());
    let selected = select(&file, Some("gh"), &env).unwrap();
    let store = Arc::new(MemoryStore::new());
    let managed = selected
        .managed_with_store(store.clone(), &env, &LoginOptions::default())
        .await
        .unwrap();
    assert_eq!(
        managed.manager.status().await.unwrap().store,
        "memory",
        "the profile's tokens are in the test's store"
    );
    let tokens = TokenSet::new(SecretString::from("gho_held"), SystemTime::now())
        .with_refresh_token(Some(SecretString::from("ghr_held")));
    managed.manager.adopt_tokens(tokens).await.unwrap();

    managed.manager.logout().await.expect("revoked at GitHub");
    assert!(store.load("gh").await.unwrap().is_none(), "removed locally");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "one DELETE, for the access token: {seen:?}");
    assert_eq!(seen[0].body["access_token"], "gho_held");
}

/// Without a profile override the preset points at GitHub's API itself.
#[test]
fn the_github_preset_revokes_at_api_github_com() {
    use latchkey::preset::{PresetVars, Resolved};
    let github = latchkey::Preset::by_name("github").unwrap();
    match github
        .resolve(&PresetVars::default().client_id(CLIENT_ID))
        .unwrap()
    {
        Resolved::Static(metadata) => assert_eq!(
            metadata.revocation_endpoint.unwrap().as_str(),
            format!("https://api.github.com/applications/{CLIENT_ID}/token")
        ),
        other => panic!("{other:?}"),
    }
}
