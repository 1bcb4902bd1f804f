//! Discovery against the real IdP fixture (counted at its discovery endpoint), and the
//! preflight errors for `fake_*` servers that are not authorization servers.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use latchkey::grant::Grant;
use latchkey::oidc::{DiscoveryCache, DiscoveryOptions, OidcError, ProviderMetadata};
use latchkey::{Error, ExposeSecret, ManualClock, Password, SecretString};
use latchkey_testkit::{Idp, clients};
use serde_json::json;

use crate::support::oidc;

#[tokio::test]
async fn discovers_the_fixture_and_builds_a_working_client() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let cache = DiscoveryCache::new(Duration::from_secs(3600), clock.clone());
    let options = DiscoveryOptions::default();
    let metadata = cache.get(idp.issuer(), &options).await.unwrap();
    assert_eq!(metadata.issuer, idp.issuer());
    assert_eq!(metadata.token_endpoint.as_str(), idp.token_url());
    assert_eq!(
        metadata.revocation_endpoint.as_ref().unwrap().as_str(),
        idp.revocation_url()
    );
    assert_eq!(
        metadata.jwks_uri.as_ref().unwrap().as_str(),
        idp.url("/jwks")
    );
    assert!(
        metadata
            .id_token_signing_alg_values_supported
            .contains(&"RS256".to_string())
    );
    assert!(metadata.authorization_response_iss_parameter_supported);
    assert_eq!(idp.counters().await.endpoint("discovery"), 1);
    assert_eq!(
        idp.counters().await.endpoint("oauth_metadata"),
        0,
        "a complete OpenID document costs no second request"
    );

    // Cached per issuer (a trailing slash is the same issuer) until the TTL runs out.
    cache
        .get(&format!("{}/", idp.issuer()), &options)
        .await
        .unwrap();
    assert_eq!(idp.counters().await.endpoint("discovery"), 1);
    clock.advance(Duration::from_secs(3601));
    cache.get(idp.issuer(), &options).await.unwrap();
    assert_eq!(idp.counters().await.endpoint("discovery"), 2);

    // The pre-filled builder gives a client that really obtains and revokes tokens.
    let client = metadata
        .client_builder(clients::PW_CONFIDENTIAL.0)
        .auth(latchkey::ClientAuth::SecretBasic(
            clients::PW_CONFIDENTIAL.1.into(),
        ))
        .build()
        .unwrap();
    let tokens = Password::new(clients::ALICE.0, SecretString::from(clients::ALICE.1))
        .obtain(&client)
        .await
        .unwrap();
    client
        .revoke(tokens.refresh_token().unwrap(), "refresh_token")
        .await
        .unwrap();
    assert_eq!(idp.counters().await.endpoint("revocation"), 1);
}

/// Issue 18 item 11: a provider that lists its revocation, introspection and device
/// endpoints only in its RFC 8414 document (the fixture's split metadata). The two
/// documents are merged: `logout --revoke` and `login --device` work without explicit URLs.
#[tokio::test]
async fn split_metadata_is_merged_so_revocation_and_device_endpoints_are_found() {
    let idp = Idp::start().await;
    idp.split_metadata(None).await;
    let cache = DiscoveryCache::new(Duration::from_secs(3600), Arc::new(ManualClock::new()));
    let metadata = cache
        .get(idp.issuer(), &DiscoveryOptions::default())
        .await
        .unwrap();
    assert_eq!(
        metadata.revocation_endpoint.as_ref().map(|u| u.as_str()),
        Some(idp.revocation_url().as_str())
    );
    assert_eq!(
        metadata.introspection_endpoint.as_ref().map(|u| u.as_str()),
        Some(idp.url("/token/introspection").as_str())
    );
    assert_eq!(
        metadata
            .device_authorization_endpoint
            .as_ref()
            .map(|u| u.as_str()),
        Some(idp.url("/device/auth").as_str())
    );
    assert_eq!(metadata.token_endpoint.as_str(), idp.token_url());
    let counters = idp.counters().await;
    assert_eq!(
        (
            counters.endpoint("discovery"),
            counters.endpoint("oauth_metadata")
        ),
        (2, 1),
        "the OpenID document, then the RFC 8414 one"
    );
    cache
        .get(idp.issuer(), &DiscoveryOptions::default())
        .await
        .unwrap();
    assert_eq!(
        idp.counters().await.endpoint("discovery"),
        2,
        "a cached provider fetches nothing"
    );

    // The merged revocation endpoint really revokes.
    let client = metadata
        .client_builder(clients::PW_CONFIDENTIAL.0)
        .auth(latchkey::ClientAuth::SecretBasic(
            clients::PW_CONFIDENTIAL.1.into(),
        ))
        .build()
        .unwrap();
    let tokens = Password::new(clients::ALICE.0, SecretString::from(clients::ALICE.1))
        .obtain(&client)
        .await
        .unwrap();
    client
        .revoke(tokens.refresh_token().unwrap(), "refresh_token")
        .await
        .unwrap();
    assert_eq!(idp.counters().await.endpoint("revocation"), 1);
    assert!(
        !idp.is_active(tokens.refresh_token().unwrap().expose_secret())
            .await
    );
}

/// The RFC 8414 document of a split provider claims another issuer: it is ignored, not
/// merged, and discovery still succeeds with what the OpenID document says.
#[tokio::test]
async fn split_metadata_about_another_issuer_is_ignored() {
    let idp = Idp::start().await;
    idp.split_metadata(Some("https://other.example")).await;
    let metadata = ProviderMetadata::discover(idp.issuer(), &DiscoveryOptions::default())
        .await
        .unwrap();
    assert_eq!(metadata.issuer, idp.issuer());
    assert!(metadata.revocation_endpoint.is_none());
    assert!(metadata.introspection_endpoint.is_none());
    assert!(metadata.device_authorization_endpoint.is_none());
    let counters = idp.counters().await;
    assert_eq!(
        (
            counters.endpoint("discovery"),
            counters.endpoint("oauth_metadata")
        ),
        (2, 1),
        "fetched once and ignored"
    );
}

/// What the CLI runs: a profile with only an issuer gets the device endpoint (`login
/// --device`) and the revocation endpoint (`logout --revoke`) from the merged metadata.
#[cfg(feature = "profiles")]
#[tokio::test]
async fn a_profile_finds_split_endpoints_without_explicit_urls() {
    use latchkey::profile::{LoginOptions, ProfilesFile, select};

    let idp = Idp::start().await;
    idp.split_metadata(None).await;
    let text = format!(
        "[profiles.split]\nissuer = \"{}\"\nauth = \"authorization-code\"\nclient_id = \"native-app\"\n",
        idp.issuer()
    );
    let file = ProfilesFile::parse(std::path::Path::new("profiles.toml"), &text).unwrap();
    let env = |_: &str| None;
    let selected = select(&file, Some("split"), &env).unwrap();
    let mut device = LoginOptions::default();
    device.device = true;
    let managed = selected
        .managed_with_store(Arc::new(latchkey::MemoryStore::new()), &env, &device)
        .await
        .expect("`login --device` finds the device endpoint");
    assert_eq!(
        managed.manager.status().await.unwrap().grant,
        latchkey::GrantKind::DeviceCode
    );
    assert_eq!(
        managed
            .metadata
            .revocation_endpoint
            .as_ref()
            .map(|u| u.as_str()),
        Some(idp.revocation_url().as_str())
    );
}

async fn discover(base: &str, issuer_path: &str) -> Result<ProviderMetadata, Error> {
    ProviderMetadata::discover(
        &format!("{base}{issuer_path}"),
        &DiscoveryOptions::default(),
    )
    .await
}

#[tokio::test]
async fn falls_back_to_rfc8414_metadata() {
    // A bare OAuth 2 server: no OIDC document, RFC 8414 metadata with the path after the segment.
    let router = Router::new().route(
        "/.well-known/oauth-authorization-server/tenant1",
        get(|axum::extract::State(base): axum::extract::State<Arc<std::sync::OnceLock<String>>>| async move {
            let base = base.get().unwrap();
            axum::Json(json!({"issuer": format!("{base}/tenant1"), "token_endpoint": format!("{base}/tenant1/token")}))
        }),
    );
    let cell = Arc::new(std::sync::OnceLock::new());
    let base = oidc::serve(router.with_state(cell.clone())).await;
    cell.set(base.clone()).unwrap();
    let metadata = discover(&base, "/tenant1").await.unwrap();
    assert_eq!(
        metadata.token_endpoint.as_str(),
        format!("{base}/tenant1/token")
    );
    assert!(metadata.jwks_uri.is_none());
}

fn not_an_authorization_server(err: Error) -> String {
    let hint = err.hint().expect("a hint");
    match &err {
        Error::Oidc(OidcError::NotAnAuthorizationServer { .. }) => {}
        other => panic!("expected NotAnAuthorizationServer, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("enable the provider's OAuth2 server"), "{msg}");
    assert!(hint.contains("issuer"), "{hint}");
    msg
}

#[tokio::test]
async fn fake_html_login_page_is_a_clear_preflight_error() {
    let base = oidc::serve(Router::new().fallback(|| async {
        Html("<html><body>Please log in <input name=password value=hunter2></body></html>")
    }))
    .await;
    let msg = not_an_authorization_server(discover(&base, "/dhis").await.unwrap_err());
    assert!(
        msg.contains(&format!("{base}/dhis")) && msg.contains("an HTML page"),
        "{msg}"
    );
    assert!(!msg.contains("hunter2"), "the body is never quoted: {msg}");
}

#[tokio::test]
async fn fake_404_is_a_clear_preflight_error() {
    let base = oidc::serve(Router::new()).await;
    let msg = not_an_authorization_server(discover(&base, "").await.unwrap_err());
    assert!(msg.contains("HTTP 404"), "{msg}");
}

#[tokio::test]
async fn fake_5xx_is_retryable_not_a_wrong_url() {
    let base = oidc::serve(Router::new().fallback(|| async { StatusCode::BAD_GATEWAY })).await;
    let err = discover(&base, "").await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
}

async fn fake_metadata(doc: serde_json::Value) -> String {
    oidc::serve(Router::new().route(
        "/.well-known/openid-configuration",
        get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc) }
        }),
    ))
    .await
}

#[tokio::test]
async fn fake_issuer_mismatch_and_missing_token_endpoint() {
    let base = fake_metadata(
        json!({"issuer": "https://other.example", "token_endpoint": "https://other.example/token"}),
    )
    .await;
    let err = discover(&base, "").await.unwrap_err();
    assert!(
        matches!(&err, Error::Oidc(OidcError::IssuerMismatch { advertised, .. }) if advertised == "https://other.example"),
        "{err:?}"
    );
    assert!(err.hint().unwrap().contains("https://other.example"));

    // The issuer is checked before anything else, so serve a matching one lazily.
    let cell = Arc::new(std::sync::OnceLock::<String>::new());
    let state = cell.clone();
    let base = oidc::serve(Router::new().route(
        "/.well-known/openid-configuration",
        get(move || {
            let issuer = state.get().cloned().unwrap_or_default();
            async move {
                axum::Json(
                    json!({"issuer": issuer, "authorization_endpoint": format!("{issuer}/auth")}),
                )
            }
        }),
    ))
    .await;
    cell.set(base.clone()).unwrap();
    let err = discover(&base, "").await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Oidc(OidcError::MissingEndpoint {
                field: "token_endpoint",
                ..
            })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("token_endpoint"));
}

#[tokio::test]
async fn non_loopback_http_endpoints_are_refused() {
    let err = ProviderMetadata::discover("http://idp.example", &DiscoveryOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}
