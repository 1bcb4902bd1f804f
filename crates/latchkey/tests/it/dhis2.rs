//! The `dhis2` preset against `fake_dhis2` (DHIS2's quirks the identity provider fixture
//! cannot show: no authorization server, the token endpoint's trailing-slash redirect), and
//! the preflight of an ordinary OIDC profile against the real fixture.

use std::sync::Arc;

use latchkey::oidc::OidcError;
use latchkey::profile::{AuthKind, LoginOptions, Selected};
use latchkey::{ClientAuthMethod, Error, MemoryStore, Profile, ProfileError, SecretString};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::NATIVE_APP;
use latchkey_testkit::fake_dhis2::{self, Dhis2Options, FakeDhis2};

fn no_env(_: &str) -> Option<String> {
    None
}

/// A `dhis2` preset profile of `auth` kind for the fake's client.
fn dhis2_profile(fake: &FakeDhis2, auth: AuthKind) -> Selected {
    let mut p = Profile::new(auth);
    p.preset = Some("dhis2".into());
    p.base_url = Some(fake.base_url().into());
    p.client_id = Some(fake_dhis2::CLIENT.0.into());
    p.client_secret = Some(latchkey::profile::SecretRef::Value(SecretString::from(
        fake_dhis2::CLIENT.1,
    )));
    Selected::new("d2", p)
}

fn core(err: ProfileError) -> Error {
    match err {
        ProfileError::Core(err) => err,
        other => panic!("expected a library error, got {other:?}"),
    }
}

async fn token_of(selected: &Selected) -> Result<String, Error> {
    let managed = selected
        .managed_with_store(
            Arc::new(MemoryStore::new()),
            &no_env,
            &LoginOptions::default(),
        )
        .await
        .map_err(core)?;
    let tokens = managed.manager.tokens().await?;
    Ok(latchkey::ExposeSecret::expose_secret(tokens.access_token()).to_owned())
}

#[tokio::test]
async fn preflight_names_the_dhis_conf_keys_when_oauth_is_off() {
    let fake = FakeDhis2::start(Dhis2Options {
        oauth_enabled: false,
        ..Dhis2Options::default()
    });
    let selected = dhis2_profile(&fake, AuthKind::AuthorizationCode);
    let err = core(selected.preflight().await.unwrap_err());
    assert!(
        matches!(
            &err,
            Error::Oidc(OidcError::NotAnAuthorizationServer { server_setup, .. }) if !server_setup.is_empty()
        ),
        "{err:?}"
    );
    // The seed's words, then every prerequisite as a list.
    let msg = err.to_string();
    assert!(
        msg.contains("does not expose OAuth2/OIDC endpoints"),
        "{msg}"
    );
    assert!(msg.contains("HTTP 404"), "{msg}");
    assert!(
        msg.contains("set `oauth2.server.enabled = on` in dhis.conf and restart DHIS2"),
        "{msg}"
    );
    let hint = err.hint().expect("a hint");
    for key in [
        "oauth2.server.enabled = on",
        "server.base.url",
        "oidc.jwt.token.authentication.enabled = on",
        "oidc.oauth2.login.enabled = on",
        "oidc.provider.dhis2.*",
        "BCrypt",
    ] {
        assert!(hint.contains(key), "{key} missing from {hint}");
    }
    assert_eq!(hint.matches("\n  - ").count(), 6, "{hint}");
    // Nothing was sent to the token endpoint, and no authorization was started.
    assert_eq!(fake.count("GET", "/.well-known/openid-configuration"), 1);
    assert_eq!(fake.count("POST", "/oauth2/token"), 0);
    assert_eq!(fake.count("GET", "/oauth2/authorize"), 0);
}

#[tokio::test]
async fn an_html_401_from_the_token_endpoint_is_no_authorization_server_not_a_bad_secret() {
    let fake = FakeDhis2::start(Dhis2Options {
        oauth_enabled: false,
        ..Dhis2Options::default()
    });
    // A profile with explicit URLs (no preset, no discovery): the token endpoint is probed.
    let mut p = Profile::new(AuthKind::AuthorizationCode);
    p.token_url = Some(format!("{}/oauth2/token", fake.base_url()));
    p.authorization_url = Some(format!("{}/oauth2/authorize", fake.base_url()));
    p.client_id = Some(fake_dhis2::CLIENT.0.into());
    let err = core(Selected::new("explicit", p).preflight().await.unwrap_err());
    assert!(
        matches!(err, Error::Oidc(OidcError::NotAnAuthorizationServer { .. })),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("no authorization server behind this URL"),
        "{msg}"
    );
    assert!(msg.contains("HTTP 401 with a web page"), "{msg}");
    // The probe sent no secret.
    let probe = &fake.seen()[0];
    assert_eq!(probe.path, "/oauth2/token");
    assert!(!probe.form.contains_key("client_secret") && !probe.authorization);

    // A real token request meets the same answer: not an `invalid_client`, not "HTTP 401".
    let mut p = Profile::new(AuthKind::ClientCredentials);
    p.token_url = Some(format!("{}/oauth2/token", fake.base_url()));
    p.client_id = Some(fake_dhis2::CLIENT.0.into());
    p.client_secret = Some(latchkey::profile::SecretRef::Value(SecretString::from(
        fake_dhis2::CLIENT.1,
    )));
    let err = token_of(&Selected::new("svc", p)).await.unwrap_err();
    assert!(
        matches!(err, Error::Oidc(OidcError::NotAnAuthorizationServer { .. })),
        "{err:?}"
    );
    assert!(!err.to_string().contains("invalid_client"), "{err}");
}

#[tokio::test]
async fn the_dhis2_preset_follows_the_trailing_slash_redirect_with_the_secret_in_the_body() {
    for status in [301, 302, 307, 308] {
        let fake = FakeDhis2::start(Dhis2Options {
            token_redirect: Some(status),
            ..Dhis2Options::default()
        });
        let selected = dhis2_profile(&fake, AuthKind::ClientCredentials);
        assert_eq!(
            selected.client_auth_method().unwrap(),
            ClientAuthMethod::ClientSecretPost
        );
        let token = token_of(&selected).await.unwrap();
        assert_eq!(token, fake_dhis2::ACCESS_TOKEN);
        let seen = fake.seen();
        let paths: Vec<_> = seen.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["/oauth2/token", "/oauth2/token/"], "{status}");
        // The same form, secret in the body, went to both; no Basic header.
        for request in &seen {
            assert_eq!(request.method, "POST", "{status}");
            assert_eq!(
                request.form.get("client_secret").map(String::as_str),
                Some(fake_dhis2::CLIENT.1),
                "{status}"
            );
            assert!(!request.authorization, "{status}");
        }
    }
}

#[tokio::test]
async fn client_secret_basic_stays_selectable_for_dhis2() {
    let fake = FakeDhis2::start(Dhis2Options::default());
    let mut selected = dhis2_profile(&fake, AuthKind::ClientCredentials);
    selected.profile.client_auth = Some(ClientAuthMethod::ClientSecretBasic);
    // The fake's client is registered for client_secret_post, so the server refuses it...
    let err = token_of(&selected).await.unwrap_err();
    assert!(err.to_string().contains("invalid_client"), "{err}");
    // ... after receiving the secret in the header, at the slashed URL.
    let last = fake.seen().pop().unwrap();
    assert_eq!(last.path, "/oauth2/token/");
    assert!(last.authorization && !last.form.contains_key("client_secret"));
}

#[tokio::test]
async fn the_redirect_exception_covers_the_trailing_slash_variant_only() {
    // Another path on the same origin, a query added, another origin (localhost is not
    // 127.0.0.1), and a 303: refused, and the form never reaches the target.
    for (status, location) in [
        (301, "/oauth2/token2"),
        (307, "/oauth2/token/?x=1"),
        (308, "http://localhost:9/oauth2/token/"),
        (303, "/oauth2/token/"),
    ] {
        let fake = FakeDhis2::start(Dhis2Options {
            token_redirect: Some(status),
            token_redirect_location: location.into(),
            ..Dhis2Options::default()
        });
        let err = token_of(&dhis2_profile(&fake, AuthKind::ClientCredentials))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("never follows redirects"),
            "{status} {location}: {err}"
        );
        let paths: Vec<_> = fake.seen().into_iter().map(|s| s.path).collect();
        assert_eq!(paths, ["/oauth2/token"], "{status} {location}");
    }

    // Without the preset, the same server's trailing-slash redirect is refused too.
    let fake = FakeDhis2::start(Dhis2Options::default());
    let mut p = Profile::new(AuthKind::ClientCredentials);
    p.token_url = Some(format!("{}/oauth2/token", fake.base_url()));
    p.client_id = Some(fake_dhis2::CLIENT.0.into());
    p.client_secret = Some(latchkey::profile::SecretRef::Value(SecretString::from(
        fake_dhis2::CLIENT.1,
    )));
    p.client_auth = Some(ClientAuthMethod::ClientSecretPost);
    let err = token_of(&Selected::new("plain", p)).await.unwrap_err();
    assert!(err.to_string().contains("redirect (HTTP 301)"), "{err}");
    assert_eq!(fake.count("POST", "/oauth2/token/"), 0);
}

#[tokio::test]
async fn preflight_passes_against_a_dhis2_with_its_authorization_server_on() {
    let fake = FakeDhis2::start(Dhis2Options::default());
    let selected = dhis2_profile(&fake, AuthKind::AuthorizationCode);
    let found = selected.preflight().await.unwrap();
    assert_eq!(found.passed.len(), 2, "{:?}", found.passed);
    assert!(
        found.passed[0].starts_with("discovery document"),
        "{:?}",
        found.passed
    );
    assert!(
        found.passed[1].contains("/oauth2/token"),
        "{:?}",
        found.passed
    );
    assert_eq!(
        selected.redirect_uri().unwrap().as_deref(),
        Some("http://localhost:8765")
    );
    // The probe followed the trailing-slash redirect and met an OAuth error there.
    assert_eq!(fake.count("POST", "/oauth2/token/"), 1);
}

#[tokio::test]
async fn an_ordinary_oidc_profile_preflights_with_discovery_alone() {
    let idp = Idp::start().await;
    let mut p = Profile::new(AuthKind::AuthorizationCode);
    p.issuer = Some(idp.issuer().into());
    p.client_id = Some(NATIVE_APP.into());
    let selected = Selected::new("oidc", p);
    idp.reset_counters().await;
    let found = selected.preflight().await.unwrap();
    assert!(found.provider.is_some());
    assert_eq!(found.passed.len(), 1, "{:?}", found.passed);
    // No token request: its login makes the requests it made before the preflight existed.
    assert_eq!(idp.counters().await.token_total(), 0);
    assert_eq!(selected.redirect_uri().unwrap(), None);
}

/// Seed 002: "/api/routes and /api/webhooks objects carry an auth block". `from_route` reads
/// the `auth` of any such object; here one with a webhook's top-level `type` (which is not an
/// auth scheme and must not be read as one), once with its secret and once read back
/// without it, as DHIS2 returns secrets.
#[test]
fn a_webhook_auth_block_reads_like_a_routes() {
    use latchkey::AuthScheme;
    let webhook = serde_json::json!({
        "type": "webhook",
        "url": "https://hooks.example/dhis2",
        "auth": {"type": "api-token", "token": "d2p_secret"}
    });
    let scheme = AuthScheme::from_route(&webhook)
        .unwrap()
        .expect("an auth block");
    assert!(matches!(scheme, AuthScheme::ApiToken { .. }), "{scheme:?}");
    assert_eq!(scheme.missing_field(), None);
    assert!(!format!("{scheme:?}").contains("d2p_secret"));

    let read_back = serde_json::json!({
        "type": "webhook",
        "url": "https://hooks.example/dhis2",
        "auth": {"type": "api-token"}
    });
    let scheme = AuthScheme::from_route(&read_back).unwrap().unwrap();
    assert_eq!(scheme.missing_field(), Some("token"));
}
