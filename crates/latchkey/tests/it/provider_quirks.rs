//! Provider quirks, with recorded response shapes from `fake_*` servers: GitHub's
//! 200-with-error, form-encoded bodies, string `expires_in` and comma scopes (through
//! `OAuthClient` and the tolerant parser), Microsoft's `{tenantid}` issuer, Google's device flow
//! (`verification_url`, HTTP 428 `authorization_pending`), and preset data.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use latchkey::grant::Grant;
use latchkey::oidc::{DiscoveryOptions, IdTokenError, IdTokenValidator, JwksCache, OidcProvider};
use latchkey::preset::{Endpoints, Quirk, Resolved};
use latchkey::{ClientCredentials, Error, ExposeSecret, OAuthClient, Preset};
use serde_json::{Value, json};

use crate::support::oidc;

/// A GitHub-like token endpoint answering `body` with `content_type`, recording the
/// `Accept` header of each request.
async fn fake_github(
    content_type: &'static str,
    body: &'static str,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let accepts = Arc::new(Mutex::new(Vec::new()));
    let seen = accepts.clone();
    let base = oidc::serve(Router::new().route(
        "/login/oauth/access_token",
        post(move |headers: HeaderMap| {
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            seen.lock().unwrap().push(accept);
            async move { ([(header::CONTENT_TYPE, content_type)], body) }
        }),
    ))
    .await;
    (format!("{base}/login/oauth/access_token"), accepts)
}

fn client(token_url: &str) -> OAuthClient {
    OAuthClient::builder("gh-app")
        .auth(latchkey::ClientAuth::SecretPost("gh-secret".into()))
        .token_url(token_url)
        .build()
        .unwrap()
}

#[tokio::test]
async fn github_200_with_error_is_a_provider_error() {
    // Recorded shape: GitHub answers a bad code with 200 OK and a JSON error.
    let (url, accepts) = fake_github(
        "application/json; charset=utf-8",
        r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired.","error_uri":"https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"}"#,
    )
    .await;
    let err = ClientCredentials::new()
        .obtain(&client(&url))
        .await
        .unwrap_err();
    match &err {
        Error::Provider(p) => {
            assert_eq!(p.status, 200);
            assert_eq!(p.error, "bad_verification_code");
            assert_eq!(
                p.description.as_deref(),
                Some("The code passed is incorrect or expired.")
            );
        }
        other => panic!("expected a provider error, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(
        accepts.lock().unwrap().as_slice(),
        ["application/json"],
        "GitHub needs Accept: application/json"
    );
}

#[tokio::test]
async fn github_form_encoded_body_with_comma_scopes() {
    // Recorded shape: without JSON, GitHub sends a form with `scope=repo%2Cgist`.
    let (url, _) = fake_github(
        "application/x-www-form-urlencoded; charset=utf-8",
        "access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=repo%2Cgist&token_type=bearer",
    )
    .await;
    let tokens = ClientCredentials::new()
        .obtain(&client(&url))
        .await
        .unwrap();
    assert_eq!(
        tokens.access_token().expose_secret(),
        "gho_16C7e42F292c6912E7710c838347Ae178B4a"
    );
    assert_eq!(tokens.scopes(), ["repo", "gist"]);
    assert_eq!(tokens.token_type(), "Bearer");
    assert_eq!(
        tokens.expires_at(),
        None,
        "no expires_in: unknown, not guessed"
    );
}

#[tokio::test]
async fn string_expires_in_and_form_encoded_error() {
    let (url, _) = fake_github(
        "application/json",
        r#"{"access_token":"ghu_x","expires_in":"28800","refresh_token":"ghr_y","refresh_token_expires_in":"15811200","scope":"","token_type":"bearer"}"#,
    )
    .await;
    let before = SystemTime::now();
    let tokens = ClientCredentials::new()
        .obtain(&client(&url))
        .await
        .unwrap();
    let expires = tokens.expires_at().unwrap();
    assert!(
        expires >= before + Duration::from_secs(28800)
            && expires <= SystemTime::now() + Duration::from_secs(28800)
    );

    let (url, _) = fake_github(
        "application/x-www-form-urlencoded",
        "error=incorrect_client_credentials&error_description=The+client_id+and%2For+client_secret+passed+are+incorrect.",
    )
    .await;
    let err = ClientCredentials::new()
        .obtain(&client(&url))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Provider(p) if p.error == "incorrect_client_credentials" && p.status == 200),
        "{err:?}"
    );
}

#[tokio::test]
async fn microsoft_tenant_issuer_template() {
    // Multi-tenant metadata advertises `{tenantid}`; discovery of `…/common/v2.0` accepts it.
    let cell = Arc::new(std::sync::OnceLock::<String>::new());
    let state = cell.clone();
    let (jwks_url, _) = oidc::fake_jwks(None).await;
    let jwks_str = jwks_url.to_string();
    let base = oidc::serve(Router::new().route(
        "/common/v2.0/.well-known/openid-configuration",
        get(move || {
            let base = state.get().cloned().unwrap_or_default();
            let jwks = jwks_str.clone();
            async move {
                axum::Json(json!({
                    "issuer": format!("{base}/{{tenantid}}/v2.0"),
                    "token_endpoint": format!("{base}/common/oauth2/v2.0/token"),
                    "jwks_uri": jwks,
                    "id_token_signing_alg_values_supported": ["RS256"],
                }))
            }
        }),
    ))
    .await;
    cell.set(base.clone()).unwrap();
    let provider =
        OidcProvider::discover_with(&format!("{base}/common/v2.0"), &DiscoveryOptions::default())
            .await
            .unwrap();
    assert_eq!(
        provider.metadata().issuer,
        format!("{base}/{{tenantid}}/v2.0")
    );
    let validator = provider
        .id_token_validator("ms-app")
        .unwrap()
        .build()
        .unwrap();

    let tid = "9188040d-6c67-4c5b-b112-36a304b66dad";
    let mut claims = oidc::good_claims(&format!("{base}/{tid}/v2.0"), "ms-app");
    claims.insert("tid".into(), json!(tid));
    let token = oidc::sign(&Value::Object(claims.clone()), oidc::FAKE_KID);
    assert_eq!(
        validator
            .validate(&token, None)
            .await
            .unwrap()
            .tid
            .as_deref(),
        Some(tid)
    );

    // A token whose `iss` names another tenant than its `tid` is refused.
    claims.insert("tid".into(), json!("72f988bf-86f1-41af-91ab-2d7cd011db47"));
    let token = oidc::sign(&Value::Object(claims.clone()), oidc::FAKE_KID);
    let err = validator.validate(&token, None).await.unwrap_err();
    assert!(
        matches!(err, Error::IdToken(IdTokenError::WrongIssuer { .. })),
        "{err:?}"
    );
    // The literal template never matches, and a missing `tid` is an error.
    claims.insert("iss".into(), json!(format!("{base}/{{tenantid}}/v2.0")));
    claims.remove("tid");
    let token = oidc::sign(&Value::Object(claims), oidc::FAKE_KID);
    let err = validator.validate(&token, None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        IdTokenError::Claim("tid".into()).to_string()
    );
}

#[tokio::test]
async fn a_plain_issuer_is_not_a_template() {
    let (jwks_url, _) = oidc::fake_jwks(None).await;
    let validator = IdTokenValidator::builder(
        "https://login.example/t1/v2.0",
        "app",
        JwksCache::builder(jwks_url).build().unwrap(),
    )
    .build()
    .unwrap();
    let mut claims = oidc::good_claims("https://login.example/t2/v2.0", "app");
    claims.insert("tid".into(), json!("t2"));
    let err = validator
        .validate(&oidc::sign(&Value::Object(claims), oidc::FAKE_KID), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::IdToken(IdTokenError::WrongIssuer { .. })),
        "{err:?}"
    );
}

#[test]
fn google_and_github_preset_data() {
    let google = Preset::by_name("google").unwrap();
    assert_eq!(
        google.endpoints,
        Endpoints::Discovery {
            issuer: "https://accounts.google.com"
        }
    );
    assert_eq!(
        google.extra_auth_params,
        [("access_type", "offline"), ("prompt", "consent")]
    );
    assert!(google.has_quirk(Quirk::VerificationUrlAlias));

    let github = Preset::by_name("github").unwrap();
    for quirk in [
        Quirk::NotOidc,
        Quirk::JsonOnlyWithAccept,
        Quirk::ErrorWith200,
        Quirk::CommaSeparatedScopes,
        Quirk::RevokeViaDeleteApplicationToken,
    ] {
        assert!(github.has_quirk(quirk), "{quirk:?}");
    }
    match github.resolve(&Default::default()).unwrap() {
        Resolved::Static(metadata) => {
            assert_eq!(
                metadata.token_endpoint.as_str(),
                "https://github.com/login/oauth/access_token"
            );
            assert_eq!(
                metadata.device_authorization_endpoint.unwrap().as_str(),
                "https://github.com/login/device/code"
            );
            assert!(metadata.revocation_endpoint.is_none());
            assert!(metadata.jwks_uri.is_none());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn microsoft_keycloak_dhis2_cdse_preset_data() {
    let vars = latchkey::preset::PresetVars::default;
    match Preset::by_name("microsoft")
        .unwrap()
        .resolve(&vars())
        .unwrap()
    {
        Resolved::Discover { issuer } => {
            assert_eq!(issuer, "https://login.microsoftonline.com/common/v2.0")
        }
        other => panic!("{other:?}"),
    }
    match Preset::by_name("microsoft")
        .unwrap()
        .resolve(&vars().tenant("contoso.onmicrosoft.com"))
        .unwrap()
    {
        Resolved::Discover { issuer } => assert_eq!(
            issuer,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"
        ),
        other => panic!("{other:?}"),
    }
    match Preset::by_name("keycloak")
        .unwrap()
        .resolve(&vars().base_url("https://kc.example/auth").realm("demo"))
        .unwrap()
    {
        Resolved::Discover { issuer } => assert_eq!(issuer, "https://kc.example/auth/realms/demo"),
        other => panic!("{other:?}"),
    }
    let dhis2 = Preset::by_name("dhis2").unwrap();
    assert_eq!(dhis2.default_scopes, ["ALL"]);
    assert_eq!(dhis2.static_auth, ["basic", "api-token"]);
    match dhis2
        .resolve(&vars().base_url("https://play.dhis2.org/dev/"))
        .unwrap()
    {
        Resolved::Static(m) => {
            assert_eq!(
                m.token_endpoint.as_str(),
                "https://play.dhis2.org/dev/oauth2/token"
            );
            assert_eq!(
                m.authorization_endpoint.unwrap().as_str(),
                "https://play.dhis2.org/dev/oauth2/authorize"
            );
        }
        other => panic!("{other:?}"),
    }
    let err = dhis2.resolve(&vars()).unwrap_err();
    assert!(err.to_string().contains("base_url"), "{err}");
    let cdse = Preset::by_name("cdse").unwrap();
    assert_eq!(cdse.public_client_id, Some("cdse-public"));
    assert_eq!(cdse.client_auth.name(), "none");
    assert!(cdse.has_quirk(Quirk::TotpParameter));
    match cdse.resolve(&vars()).unwrap() {
        Resolved::Discover { issuer } => assert_eq!(
            issuer,
            "https://identity.dataspace.copernicus.eu/auth/realms/CDSE"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        Preset::names(),
        [
            "oidc",
            "google",
            "github",
            "microsoft",
            "keycloak",
            "dhis2",
            "cdse"
        ]
    );
    let err = Preset::by_name("okta").unwrap_err();
    assert!(err.hint().unwrap().contains("keycloak"));
}

/// A Google-like device flow (recorded shapes): the device endpoint says `verification_url`
/// (not RFC 8628's `verification_uri`), and a pending authorization is HTTP 428 with
/// `authorization_pending` instead of RFC 6749's 400. Counts token requests.
async fn fake_google_device() -> (String, Arc<Mutex<u32>>) {
    let polls = Arc::new(Mutex::new(0u32));
    let seen = polls.clone();
    let base = oidc::serve(
        Router::new()
            .route(
                "/device/code",
                post(|| async {
                    (
                        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                        // interval lowered from Google's 5 to keep the test short.
                        r#"{"device_code":"AH-1Ng2abc","user_code":"GQVQ-JKEC","verification_url":"https://www.google.com/device","expires_in":1800,"interval":1}"#,
                    )
                }),
            )
            .route(
                "/token",
                post(move || {
                    let n = {
                        let mut n = seen.lock().unwrap();
                        *n += 1;
                        *n
                    };
                    async move {
                        let json = [(header::CONTENT_TYPE, "application/json; charset=utf-8")];
                        if n == 1 {
                            (
                                axum::http::StatusCode::PRECONDITION_REQUIRED,
                                json,
                                r#"{"error":"authorization_pending","error_description":"Precondition Required."}"#,
                            )
                        } else {
                            (
                                axum::http::StatusCode::OK,
                                json,
                                r#"{"access_token":"ya29.a0-fake","expires_in":3599,"refresh_token":"1//0g-fake","scope":"openid https://www.googleapis.com/auth/userinfo.email","token_type":"Bearer"}"#,
                            )
                        }
                    }
                }),
            ),
    )
    .await;
    (base, polls)
}

#[tokio::test]
async fn google_device_flow_with_verification_url_and_428_pending() {
    let (base, polls) = fake_google_device().await;
    let shown = Arc::new(Mutex::new(None));
    let record = shown.clone();
    let grant = latchkey::DeviceCode::builder(format!("{base}/device/code"))
        .scopes(["openid", "email"])
        .on_prompt(move |prompt: &latchkey::DevicePrompt| {
            *record.lock().unwrap() =
                Some((prompt.verification_uri.clone(), prompt.user_code.clone()));
        })
        .build()
        .unwrap();
    let client = OAuthClient::builder("google-cli.apps.googleusercontent.com")
        .auth(latchkey::ClientAuth::SecretPost("gs-secret".into()))
        .token_url(format!("{base}/token"))
        .build()
        .unwrap();
    let tokens = grant.obtain(&client).await.expect("device login");
    assert_eq!(tokens.access_token().expose_secret(), "ya29.a0-fake");
    assert_eq!(
        tokens.scopes(),
        ["openid", "https://www.googleapis.com/auth/userinfo.email"]
    );
    assert_eq!(
        shown.lock().unwrap().clone(),
        Some((
            "https://www.google.com/device".to_owned(),
            "GQVQ-JKEC".to_owned()
        )),
        "the user was shown Google's verification_url"
    );
    assert_eq!(*polls.lock().unwrap(), 2, "one 428 pending, then the token");
}
