//! Signed request objects (JAR, RFC 9101): the authorization request's parameters as the
//! claims of a JWT signed with the client's `private_key_jwt` key, so the provider can tell
//! that nobody between the client and it changed them.

use std::time::SystemTime;

use base64::Engine as _;
use rand::RngExt;
use serde_json::{Map, Value};

use crate::client::OAuthClient;
use crate::client_auth::ClientAuth;
use crate::error::{Error, Result};

/// How long a request object is valid: long enough for a slow browser start, short enough
/// that a leaked one is soon useless.
const LIFETIME_SECS: u64 = 300;

/// RFC 9101 §10.8: the media type that keeps a request object from being mistaken for
/// another kind of JWT.
const TYPE: &str = "oauth-authz-req+jwt";

/// Signs `params` as a request object for `audience` (the issuer) and returns the
/// parameters that replace them: `client_id` and `request` (RFC 9101 §5).
pub(crate) fn sign(
    client: &OAuthClient,
    audience: &str,
    params: &[(String, String)],
) -> Result<Vec<(String, String)>> {
    let ClientAuth::PrivateKeyJwt(key) = client.auth() else {
        return Err(Error::Config(format!(
            "a signed request object is signed with the client's `private_key_jwt` key, but \
             the client authenticates with `{}`: configure `client_auth = \"private_key_jwt\"` \
             and `private_key`",
            client.auth().method_name()
        )));
    };
    let jwt = key.sign(Some(TYPE), &claims(client.client_id(), audience, params))?;
    Ok(vec![
        ("client_id".into(), client.client_id().into()),
        ("request".into(), jwt),
    ])
}

/// The claims: every parameter, plus `iss`, `aud`, `iat`, `nbf`, `exp` and a unique `jti`.
fn claims(client_id: &str, audience: &str, params: &[(String, String)]) -> Map<String, Value> {
    // Checked against the provider's clock, so the real one.
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let jti: [u8; 16] = rand::rng().random();
    let mut claims: Map<String, Value> = params
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    for (name, value) in [
        ("iss", Value::from(client_id)),
        ("client_id", Value::from(client_id)),
        ("aud", Value::from(audience)),
        ("iat", Value::from(now)),
        ("nbf", Value::from(now)),
        ("exp", Value::from(now + LIFETIME_SECS)),
        (
            "jti",
            Value::from(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(jti)),
        ),
    ] {
        claims.insert(name.into(), value);
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_carry_the_parameters_and_the_registered_claims() {
        let params = vec![
            ("response_type".to_owned(), "code".to_owned()),
            ("state".to_owned(), "s".to_owned()),
        ];
        let one = claims("cli", "https://idp.example", &params);
        assert_eq!(one["response_type"], "code");
        assert_eq!(one["iss"], "cli");
        assert_eq!(one["aud"], "https://idp.example");
        assert!(one["exp"].as_u64().unwrap() > one["nbf"].as_u64().unwrap());
        let two = claims("cli", "https://idp.example", &params);
        assert_ne!(
            one["jti"], two["jti"],
            "every request object has its own jti"
        );
    }

    #[test]
    fn a_client_without_a_private_key_is_told_what_to_configure() {
        let client = OAuthClient::builder("cli")
            .token_url("https://idp.example/token")
            .build()
            .unwrap();
        let err = sign(&client, "https://idp.example", &[]).unwrap_err();
        assert!(err.to_string().contains("private_key_jwt"), "{err}");
    }
}
