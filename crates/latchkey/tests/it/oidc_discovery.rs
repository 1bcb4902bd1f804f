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
use latchkey::{Error, ManualClock, Password, SecretString};
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
