//! The fixture's token exchange and jwt-bearer side (`tests/idp/exchange.mjs`): its clients,
//! the issuers it trusts, and JWTs signed as them.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::Idp;

/// Google-style jwt-bearer client: no client authentication, the assertion is the grant.
pub const SA_BEARER: &str = "sa-bearer";
/// The service account the fixture trusts for jwt-bearer assertions (`client_email`).
pub const SERVICE_ACCOUNT: &str = "sa-bearer@latchkey-test.iam.example";
/// client_secret_basic client for token exchange.
pub const EXCHANGER: (&str, &str) = ("exchanger", "exchanger-secret");
/// private_key_jwt client whose key is the workload issuer's: it authenticates with a JWT
/// the workload issuer signed (with `iss` = `sub` = its client id, as oidc-provider insists).
pub const WORKLOAD_CLIENT: &str = "workload-client";
/// The issuer standing for a Kubernetes API server, a SPIRE server or GitHub's token
/// service: the fixture trusts its ES256 JWTs as subject tokens and assertions.
pub const WORKLOAD_ISSUER: &str = "https://workload.example";
/// The key id of the workload issuer's key in [`WORKLOAD_CLIENT`]'s key set.
pub const WORKLOAD_KID: &str = "workload-1";
/// The audiences token exchange issues tokens for; any other is `invalid_target`.
pub const EXCHANGE_AUDIENCES: [&str; 2] = ["https://api.example", "https://reports.example"];

/// The PEM of the service account's RSA private key.
pub fn service_account_pem() -> String {
    read_key("sa-bearer.private.pem")
}

/// The PEM of the workload issuer's EC P-256 private key.
pub fn workload_issuer_pem() -> String {
    read_key("workload-issuer.private.pem")
}

/// A Google-style service account key file for [`SERVICE_ACCOUNT`], its `token_uri` the
/// fixture's token endpoint.
pub fn service_account_json(idp: &Idp) -> String {
    json!({
        "type": "service_account",
        "project_id": "latchkey-test",
        "private_key_id": "sa-bearer-1",
        "private_key": service_account_pem(),
        "client_email": SERVICE_ACCOUNT,
        "client_id": "100000000000000000001",
        "token_uri": idp.token_url(),
    })
    .to_string()
}

/// A JWT the workload issuer signs (ES256), valid for `lifetime`: `iss`, `sub` and `aud` as
/// given, `iat`, `exp` and a unique `jti`.
pub fn workload_jwt(iss: &str, sub: &str, aud: &str, lifetime: Duration) -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let claims = json!({
        "iss": iss, "sub": sub, "aud": aud,
        "iat": now, "exp": now + lifetime.as_secs(),
        "jti": format!("workload-{now}-{seq}-{}", std::process::id()),
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(WORKLOAD_KID.into());
    let key = jsonwebtoken::EncodingKey::from_ec_pem(workload_issuer_pem().as_bytes())
        .expect("workload issuer key");
    jsonwebtoken::encode(&header, &claims, &key).expect("sign")
}

/// A Kubernetes-style projected service-account token for the fixture: issued by
/// [`WORKLOAD_ISSUER`] for `sub`, audience the fixture's issuer.
pub fn service_account_token(idp: &Idp, sub: &str, lifetime: Duration) -> String {
    workload_jwt(WORKLOAD_ISSUER, sub, idp.issuer(), lifetime)
}

/// What the fixture knows about an access token it issued (`POST /__admin/inspect`):
/// `active`, `model`, `client_id`, `aud`, and `extra` (`sub`, `act` for exchanged tokens).
pub async fn inspect(idp: &Idp, token: &str) -> Value {
    latchkey::http_client()
        .expect("client")
        .post(idp.url("/__admin/inspect"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .expect("inspect")
        .json()
        .await
        .expect("inspect json")
}

fn read_key(name: &str) -> String {
    let path = crate::idp::fixture_dir().join("keys").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read test key {}: {e}", path.display()))
}
