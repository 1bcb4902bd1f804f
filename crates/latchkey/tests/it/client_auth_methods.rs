//! client_secret_jwt and mutual TLS (RFC 8705) against the real identity provider fixture:
//! its HTTPS listener asks for client certificates, binds tokens to them, and lists
//! `mtls_endpoint_aliases` in discovery.

use std::sync::Arc;

use latchkey::oidc::{DiscoveryOptions, OidcProvider, ProviderMetadata};
use latchkey::{
    ClientAuth, ClientCertificate, ClientCredentials, ClientSecretJwt, ExposeSecret, Grant,
    ManualClock, OAuthClient, SecretString,
};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::*;

use crate::support;

/// The fixture's CA, which issued its HTTPS listener's certificate.
fn test_ca(idp: &Idp) -> reqwest::Certificate {
    reqwest::Certificate::from_pem(idp.mtls().ca_pem().as_bytes()).expect("the test CA")
}

/// latchkey's HTTP client presenting `cert` (or none), trusting the fixture's CA.
fn http_trusting_the_fixture(idp: &Idp, cert: Option<&ClientCertificate>) -> reqwest::Client {
    let builder = match cert {
        Some(cert) => cert.http_client_builder().expect("a certificate builder"),
        None => latchkey::http_client_builder(),
    };
    builder
        .add_root_certificate(test_ca(idp))
        .build()
        .expect("an HTTP client")
}

fn certificate(paths: (std::path::PathBuf, std::path::PathBuf)) -> ClientCertificate {
    ClientCertificate::from_files(paths.0, paths.1).expect("the fixture's client certificate")
}

/// A client of the mutual-TLS token endpoint (the discovered alias) with `auth` over `http`.
async fn mtls_client(
    idp: &Idp,
    client_id: &str,
    auth: ClientAuth,
    http: reqwest::Client,
) -> (OAuthClient, ProviderMetadata) {
    let metadata = ProviderMetadata::discover(idp.issuer(), &DiscoveryOptions::default())
        .await
        .expect("discovery")
        .with_mtls_endpoint_aliases()
        .expect("usable aliases");
    let client = metadata
        .client_builder(client_id)
        .auth(auth)
        .http_client(http)
        .retry(support::fast_retry(1))
        .build()
        .expect("client config");
    (client, metadata)
}

/// `GET /__resource/mtls` on the mutual-TLS listener with `token`: the status, and the body.
async fn resource(idp: &Idp, http: &reqwest::Client, token: &SecretString) -> (u16, String) {
    let response = http
        .get(idp.mtls_url("/__resource/mtls"))
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .expect("the resource route answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn client_secret_jwt_gets_revokes_and_introspects_with_either_audience() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let secret = || SecretString::from(SVC_SECRET_JWT.1);
    let provider = OidcProvider::discover(idp.issuer())
        .await
        .expect("discovery");
    for auth in [
        ClientSecretJwt::new(secret()),
        ClientSecretJwt::new(secret()).audience_issuer(idp.issuer()),
    ] {
        let client = support::client(
            &idp,
            SVC_SECRET_JWT.0,
            ClientAuth::ClientSecretJwt(auth.clone()),
            &clock,
        );
        let tokens = ClientCredentials::new()
            .scopes(["api:read"])
            .obtain(&client)
            .await
            .unwrap_or_else(|e| panic!("{:?}: {e}", auth.audience()));
        let access = tokens.access_token();
        let seen = provider
            .introspect(&client, access, Some("access_token"))
            .await
            .expect("introspection with client_secret_jwt");
        assert!(seen.active);
        assert_eq!(seen.client_id.as_deref(), Some(SVC_SECRET_JWT.0));
        client
            .revoke(access, "access_token")
            .await
            .expect("revocation with client_secret_jwt");
        assert!(!idp.is_active(access.expose_secret()).await);
    }
    let counters = idp.counters().await;
    assert_eq!(counters.by_client(SVC_SECRET_JWT.0), 2);
    assert_eq!(counters.endpoint("introspection"), 2);
    assert_eq!(counters.endpoint("revocation"), 2);
}

#[tokio::test]
async fn client_secret_jwt_with_a_wrong_secret_is_refused_clearly() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = support::client(
        &idp,
        SVC_SECRET_JWT.0,
        ClientAuth::ClientSecretJwt(ClientSecretJwt::new(SecretString::from(
            "not-the-secret-0123456789abcdef0123456789",
        ))),
        &clock,
    );
    let err = ClientCredentials::new().obtain(&client).await.unwrap_err();
    let latchkey::Error::Provider(provider) = &err else {
        panic!("expected the provider's refusal, got {err:?}")
    };
    assert_eq!(
        (provider.error.as_str(), provider.status),
        ("invalid_client", 401)
    );
    let hint = err.hint().expect("a hint");
    assert!(
        hint.contains("secret") && hint.contains("client_auth"),
        "{hint}"
    );
    assert!(!format!("{err} {err:?}").contains("not-the-secret"));
    assert!(!err.is_retryable());
    assert_eq!(idp.counters().await.by_client(SVC_SECRET_JWT.0), 1);
}

#[tokio::test]
async fn both_mutual_tls_methods_get_certificate_bound_tokens_over_the_aliases() {
    let idp = Idp::start().await;
    let cases = [
        (SVC_MTLS, ClientAuth::TlsClientAuth, idp.mtls().client()),
        (
            SVC_MTLS_SELF,
            ClientAuth::SelfSignedTlsClientAuth,
            idp.mtls().self_signed(),
        ),
    ];
    for (client_id, auth, files) in cases {
        let cert = certificate(files);
        let http = http_trusting_the_fixture(&idp, Some(&cert));
        let (client, metadata) = mtls_client(&idp, client_id, auth, http.clone()).await;
        assert_eq!(client.token_url().as_str(), idp.mtls_url("/token"));
        let tokens = ClientCredentials::new()
            .scopes(["api:read"])
            .obtain(&client)
            .await
            .unwrap_or_else(|e| panic!("{client_id}: {e}"));
        assert_eq!(idp.counters().await.by_client(client_id), 1, "{client_id}");
        // Introspection over the alias, as the same client: the token is bound (cnf).
        let provider =
            OidcProvider::from_metadata(Arc::new(metadata), Some(http.clone())).expect("provider");
        let seen = provider
            .introspect(&client, tokens.access_token(), Some("access_token"))
            .await
            .expect("introspection over mutual TLS");
        let bound = seen.extra["cnf"]["x5t#S256"].as_str().unwrap_or_default();
        assert!(!bound.is_empty(), "{client_id}: {:?}", seen.extra);
        // The resource accepts it over the same certificate ...
        let (status, body) = resource(&idp, &http, tokens.access_token()).await;
        assert_eq!(status, 200, "{client_id}: {body}");
        assert!(body.contains(bound), "{body}");
        // ... and refuses it without one, or over another one.
        let bare = http_trusting_the_fixture(&idp, None);
        let (status, body) = resource(&idp, &bare, tokens.access_token()).await;
        assert_eq!(status, 401, "{client_id}: {body}");
        assert!(body.contains("no client certificate"), "{body}");
        let other = match client_id {
            SVC_MTLS => idp.mtls().self_signed(),
            _ => idp.mtls().client(),
        };
        let other = http_trusting_the_fixture(&idp, Some(&certificate(other)));
        let (status, body) = resource(&idp, &other, tokens.access_token()).await;
        assert_eq!(status, 401, "{client_id}: {body}");
        assert!(body.contains("not the one the token is bound to"), "{body}");
    }
}

#[tokio::test]
async fn a_missing_client_certificate_is_invalid_client_and_the_hint_names_it() {
    let idp = Idp::start().await;
    // RFC 8705 §2: without a certificate the client is not authenticated: invalid_client
    // (RFC 6749 §5.2).
    let bare = http_trusting_the_fixture(&idp, None);
    let (client, _) = mtls_client(&idp, SVC_MTLS, ClientAuth::TlsClientAuth, bare).await;
    let err = ClientCredentials::new().obtain(&client).await.unwrap_err();
    let latchkey::Error::Provider(provider) = &err else {
        panic!("expected the provider's refusal, got {err:?}")
    };
    assert_eq!(
        (provider.error.as_str(), provider.status),
        ("invalid_client", 401)
    );
    let hint = err.hint().expect("a hint");
    assert!(
        hint.contains("client_cert") && hint.contains("client_key"),
        "{hint}"
    );
    assert_eq!(idp.counters().await.by_client(SVC_MTLS), 1);
    // The self-signed certificate is not from the CA that tls_client_auth trusts.
    let stranger = certificate(idp.mtls().self_signed());
    let http = http_trusting_the_fixture(&idp, Some(&stranger));
    let (client, _) = mtls_client(&idp, SVC_MTLS, ClientAuth::TlsClientAuth, http).await;
    let err = ClientCredentials::new().obtain(&client).await.unwrap_err();
    assert!(err.to_string().contains("invalid_client"), "{err}");
    // latchkey refuses to build a mutual-TLS client with no certificate at all, before any
    // request, and says what to set.
    let err = OAuthClient::builder(SVC_MTLS)
        .auth(ClientAuth::TlsClientAuth)
        .token_url(idp.mtls_url("/token"))
        .build()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("tls_client_auth")
            && text.contains("client_cert")
            && text.contains("client_key"),
        "{text}"
    );
    assert_eq!(idp.counters().await.by_client(SVC_MTLS), 2);
}

#[tokio::test]
async fn debug_output_hides_the_jwt_secret_and_the_certificate_key() {
    let idp = Idp::start().await;
    let (cert_path, key_path) = idp.mtls().client();
    let key_body = std::fs::read_to_string(&key_path)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_owned();
    let cert = ClientCertificate::from_files(&cert_path, &key_path).unwrap();
    let client = OAuthClient::builder(SVC_MTLS)
        .auth(ClientAuth::TlsClientAuth)
        .token_url(idp.mtls_url("/token"))
        .client_certificate(cert.clone())
        .build()
        .expect("latchkey builds the client with the certificate");
    assert!(client.client_certificate().is_some());
    let auth =
        ClientAuth::ClientSecretJwt(ClientSecretJwt::new(SecretString::from(SVC_SECRET_JWT.1)));
    let shown = format!("{client:?} {cert:?} {auth:?}");
    assert!(!shown.contains(&key_body), "{shown}");
    assert!(!shown.contains(SVC_SECRET_JWT.1), "{shown}");
    assert!(shown.contains("[REDACTED]"), "{shown}");
}
