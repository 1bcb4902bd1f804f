//! ID token validation: a real token from the IdP fixture validates; forged and spoiled
//! tokens are refused with typed errors that never quote the token. Crafted tokens with bad
//! claims are signed with a test key served by a `fake_jwks` server.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use latchkey::oidc::{IdTokenError, IdTokenValidator, JwksCache, OidcProvider};
use latchkey::{Error, ExposeSecret, SecretString};
use latchkey_testkit::{Idp, clients};
use serde_json::{Value, json};

use crate::support::oidc;

const FAKE_ISS: &str = "https://fake-issuer.example";
const CLIENT: &str = "my-client";

async fn fake_validator() -> IdTokenValidator {
    let (jwks_url, _) = oidc::fake_jwks(None).await;
    let jwks = JwksCache::builder(jwks_url).build().unwrap();
    IdTokenValidator::builder(FAKE_ISS, CLIENT, jwks)
        .algorithms([Algorithm::RS256, Algorithm::ES256])
        .build()
        .unwrap()
}

fn id_token_error(
    result: Result<latchkey::IdTokenClaims, Error>,
    token: &SecretString,
) -> IdTokenError {
    match result {
        Err(Error::IdToken(e)) => {
            let shown = format!("{e} {:?}", Error::IdToken(e.clone()));
            assert!(
                !shown.contains(token.expose_secret()),
                "error quotes the token: {shown}"
            );
            assert!(Error::IdToken(e.clone()).hint().is_some());
            e
        }
        other => panic!("expected an IdToken error, got {other:?}"),
    }
}

#[tokio::test]
async fn fixture_password_grant_id_token_validates() {
    let idp = Idp::start().await;
    let provider = OidcProvider::discover(idp.issuer()).await.unwrap();
    let validator = provider
        .id_token_validator(clients::PW_CLIENT)
        .unwrap()
        .build()
        .unwrap();
    let tokens = oidc::password_tokens(&idp).await;
    let id_token = tokens.id_token().expect("openid scope gives an id_token");
    let claims = validator.validate(id_token, None).await.unwrap();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.iss, idp.issuer());
    assert_eq!(claims.aud.as_slice(), [clients::PW_CLIENT]);
    assert_eq!(claims.email.as_deref(), Some("alice@example.org"));
    assert_eq!(claims.email_verified, Some(true));
    assert_eq!(claims.name.as_deref(), Some("Alice Example"));

    // The same token is not for another client.
    let other = provider
        .id_token_validator("web-app")
        .unwrap()
        .build()
        .unwrap();
    let err = id_token_error(other.validate(id_token, None).await, id_token);
    assert_eq!(
        err,
        IdTokenError::WrongAudience {
            client_id: "web-app".into()
        }
    );

    // A nonce was never sent with the password grant: expecting one fails.
    let err = id_token_error(validator.validate(id_token, Some("n-123")).await, id_token);
    assert_eq!(err, IdTokenError::Nonce("is missing"));
}

/// Splits a compact JWS into its three parts.
fn parts(token: &SecretString) -> (String, String, String) {
    let mut it = token.expose_secret().split('.').map(str::to_owned);
    (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn alg_none_and_hs256_with_the_rsa_public_key_are_refused() {
    let idp = Idp::start().await;
    let provider = OidcProvider::discover(idp.issuer()).await.unwrap();
    let validator = provider
        .id_token_validator(clients::PW_CLIENT)
        .unwrap()
        .build()
        .unwrap();
    let tokens = oidc::password_tokens(&idp).await;
    let real = tokens.id_token().unwrap();
    let (header, payload, _) = parts(real);
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    let kid = header["kid"].as_str().unwrap().to_owned();

    // alg "none": the real claims, no signature.
    let none = SecretString::from(format!(
        "{}.{payload}.",
        b64(json!({"alg":"none","kid":kid}).to_string().as_bytes())
    ));
    match id_token_error(validator.validate(&none, None).await, &none) {
        IdTokenError::Malformed(reason) => assert!(reason.contains("none"), "{reason}"),
        other => panic!("expected Malformed, got {other:?}"),
    }

    // HS256 keyed with the provider's RSA public key bytes (the key-confusion forgery).
    let jwks: Value = reqwest::get(idp.url("/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rsa = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap();
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(rsa["n"].as_str().unwrap())
        .unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&payload)
            .unwrap(),
    )
    .unwrap();
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(kid.clone());
    let hs = SecretString::from(
        jsonwebtoken::encode(&hs_header, &claims, &EncodingKey::from_secret(&n)).unwrap(),
    );
    match id_token_error(validator.validate(&hs, None).await, &hs) {
        IdTokenError::AlgorithmNotAllowed { alg, .. } => assert_eq!(alg, "HS256"),
        other => panic!("expected AlgorithmNotAllowed, got {other:?}"),
    }
    // And no configuration can allow HMAC next to the provider's public keys.
    let err = provider
        .id_token_validator(clients::PW_CLIENT)
        .unwrap()
        .algorithms([Algorithm::RS256, Algorithm::HS256])
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("HMAC"), "{err}");
}

#[tokio::test]
async fn crafted_claims_are_checked() {
    let validator = fake_validator().await;
    let good = oidc::good_claims(FAKE_ISS, CLIENT);
    let nonce = Some("n-0S6_WzA2Mj");
    let token = oidc::sign(&Value::Object(good.clone()), oidc::FAKE_KID);
    let claims = validator.validate(&token, nonce).await.unwrap();
    assert_eq!(claims.sub, "alice");

    let now = oidc::now();
    let spoiled = |key: &str, value: Value| {
        let mut c = good.clone();
        c.insert(key.into(), value);
        oidc::sign(&Value::Object(c), oidc::FAKE_KID)
    };
    let cases: Vec<(SecretString, Option<&str>, IdTokenError)> = vec![
        (
            spoiled("iss", json!("https://evil.example")),
            nonce,
            IdTokenError::WrongIssuer {
                expected: FAKE_ISS.into(),
                found: "https://evil.example".into(),
            },
        ),
        (
            spoiled("aud", json!("someone-else")),
            nonce,
            IdTokenError::WrongAudience {
                client_id: CLIENT.into(),
            },
        ),
        (
            spoiled("exp", json!(now - 3600)),
            nonce,
            IdTokenError::Expired,
        ),
        (
            spoiled("nbf", json!(now + 3600)),
            nonce,
            IdTokenError::NotYetValid,
        ),
        (
            spoiled("iat", json!(now + 3600)),
            nonce,
            IdTokenError::IssuedInFuture,
        ),
        (
            token.clone(),
            Some("n-0S6_WzA2Mk"),
            IdTokenError::Nonce("does not match the login request"),
        ),
        (
            spoiled("aud", json!([CLIENT, "other"])),
            nonce,
            IdTokenError::AuthorizedParty(
                "missing although the token has several audiences".into(),
            ),
        ),
        (
            spoiled("azp", json!("other")),
            nonce,
            IdTokenError::AuthorizedParty("`other` is not this client".into()),
        ),
    ];
    for (token, nonce, expected) in cases {
        let err = id_token_error(validator.validate(&token, nonce).await, &token);
        assert_eq!(err, expected);
    }

    // Leeway (60 s by default) forgives a little clock skew.
    validator
        .validate(&spoiled("exp", json!(now - 30)), nonce)
        .await
        .unwrap();
    // Several audiences are fine with the right azp.
    let mut multi = good.clone();
    multi.insert("aud".into(), json!([CLIENT, "other"]));
    multi.insert("azp".into(), json!(CLIENT));
    validator
        .validate(&oidc::sign(&Value::Object(multi), oidc::FAKE_KID), nonce)
        .await
        .unwrap();

    // A changed payload breaks the signature.
    let (h, _, s) = parts(&token);
    let mut evil = good.clone();
    evil.insert("sub".into(), json!("mallory"));
    let tampered = SecretString::from(format!(
        "{h}.{}.{s}",
        b64(Value::Object(evil).to_string().as_bytes())
    ));
    assert_eq!(
        id_token_error(validator.validate(&tampered, nonce).await, &tampered),
        IdTokenError::InvalidSignature
    );

    // ES256 in the header with the RSA key's kid: the algorithm must belong to the key.
    let es_header = b64(json!({"alg":"ES256","kid":oidc::FAKE_KID})
        .to_string()
        .as_bytes());
    let (_, p, s) = parts(&token);
    let confused = SecretString::from(format!("{es_header}.{p}.{s}"));
    assert!(matches!(
        id_token_error(validator.validate(&confused, nonce).await, &confused),
        IdTokenError::KeyMismatch { .. }
    ));
}

#[tokio::test]
async fn userinfo_introspection_and_end_session() {
    let idp = Idp::start().await;
    let provider = OidcProvider::discover(idp.issuer()).await.unwrap();
    // Introspection and revocation need an authenticated client (RFC 7662 §2.1, RFC 7009 §2.1).
    let client = provider
        .client_builder(clients::PW_CONFIDENTIAL.0)
        .auth(latchkey::ClientAuth::SecretBasic(
            clients::PW_CONFIDENTIAL.1.into(),
        ))
        .build()
        .unwrap();
    let tokens = oidc::password_tokens_for(&client).await;
    let info = provider
        .userinfo(tokens.access_token(), Some("alice"))
        .await
        .unwrap();
    assert_eq!(info.sub, "alice");
    assert_eq!(info.claim_str("email"), Some("alice@example.org"));
    let err = provider
        .userinfo(tokens.access_token(), Some("bob"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Oidc(_)), "{err:?}");
    let bad = provider
        .userinfo(&SecretString::from("not-a-token"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(bad, Error::HttpStatus { status: 401, .. }),
        "{bad:?}"
    );

    let active = provider
        .introspect(&client, tokens.access_token(), Some("access_token"))
        .await
        .unwrap();
    assert!(active.active);
    assert_eq!(active.sub.as_deref(), Some("alice"));
    let before = idp.counters().await.endpoint("introspection");
    client
        .revoke(tokens.refresh_token().unwrap(), "refresh_token")
        .await
        .unwrap();
    let revoked = provider
        .introspect(&client, tokens.access_token(), None)
        .await
        .unwrap();
    assert!(
        !revoked.active,
        "revoking the refresh token revokes its grant's access tokens"
    );
    assert_eq!(idp.counters().await.endpoint("introspection"), before + 1);

    let url = provider
        .end_session_url()
        .unwrap()
        .id_token_hint(tokens.id_token().unwrap())
        .post_logout_redirect_uri("http://127.0.0.1:18080/")
        .state("st")
        .build();
    assert!(
        url.as_str()
            .starts_with(&idp.url("/session/end?id_token_hint="))
    );
    assert!(
        url.as_str()
            .ends_with("post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A18080%2F&state=st")
    );
}

/// Finding 8: a claim of the wrong type made serde's message quote its value (`invalid
/// type: string "…"`), personal data that went on into logs and the web 400 page. The
/// position and the expected type stay; the value goes.
#[tokio::test]
async fn finding_id_token_errors_do_not_quote_claim_values() {
    let validator = fake_validator().await;
    let personal = "jane.doe.1984@private-mail.example";
    for (claim, value) in [
        ("email", json!({ "address": personal })),
        ("exp", json!(personal)),
        ("name", json!([personal])),
        ("aud", json!([CLIENT, 42, personal])),
    ] {
        let mut claims = oidc::good_claims(FAKE_ISS, CLIENT);
        claims.insert(claim.into(), value);
        let token = oidc::sign(&Value::Object(claims), oidc::FAKE_KID);
        let err = id_token_error(validator.validate(&token, None).await, &token);
        let shown = format!("{err} {err:?} {:?}", err.hint());
        assert!(!shown.contains("jane.doe"), "{claim}: {shown}");
        let IdTokenError::Malformed(reason) = &err else {
            panic!("{claim}: expected Malformed, got {err:?}");
        };
        assert!(reason.contains(" at line 1 column "), "{claim}: {reason}");
    }
    let mut claims = oidc::good_claims(FAKE_ISS, CLIENT);
    claims.insert("exp".into(), json!(personal));
    let token = oidc::sign(&Value::Object(claims), oidc::FAKE_KID);
    let err = id_token_error(validator.validate(&token, None).await, &token);
    assert!(
        err.to_string()
            .starts_with("the id token is malformed: claims: invalid type: string, expected u64 at line 1 column "),
        "{err}"
    );
}

/// Finding 8: an unknown `kid` was echoed whole, 100,000 characters of attacker input in one
/// error line, control characters included. Now its first 64 characters, escaped, and its
/// length.
#[tokio::test]
async fn finding_id_token_errors_cut_and_escape_a_huge_kid() {
    let validator = fake_validator().await;
    let kid = format!("evil\n{}", "k".repeat(100_000 - 5));
    let token = oidc::sign(&Value::Object(oidc::good_claims(FAKE_ISS, CLIENT)), &kid);
    let err = id_token_error(validator.validate(&token, None).await, &token);
    let IdTokenError::UnknownKey { kid: Some(shown) } = &err else {
        panic!("expected UnknownKey, got {err:?}");
    };
    assert!(shown.starts_with("evil\\nkkk"), "{shown}");
    assert!(shown.ends_with("… (100000 characters)"), "{shown}");
    let text = err.to_string();
    assert!(text.len() < 200 && !text.contains('\n'), "{text}");
    // An ordinary kid still reads as it is.
    let token = oidc::sign(
        &Value::Object(oidc::good_claims(FAKE_ISS, CLIENT)),
        "rotated-2",
    );
    let err = id_token_error(validator.validate(&token, None).await, &token);
    assert_eq!(
        err,
        IdTokenError::UnknownKey {
            kid: Some("rotated-2".into())
        }
    );
}

/// Finding 8: the issuer and authorized party a token names are attacker input too: cut and
/// escaped like the `kid`.
#[tokio::test]
async fn finding_id_token_errors_cut_a_long_issuer_and_azp() {
    let validator = fake_validator().await;
    let long = format!("https://evil.example/{}\r\n", "x".repeat(5_000));
    for claim in ["iss", "azp"] {
        let mut claims = oidc::good_claims(FAKE_ISS, CLIENT);
        claims.insert(claim.into(), json!(long));
        let token = oidc::sign(&Value::Object(claims), oidc::FAKE_KID);
        let text = id_token_error(validator.validate(&token, None).await, &token).to_string();
        assert!(text.len() < 300, "{claim}: {text}");
        assert!(!text.contains(['\r', '\n']), "{claim}: {text}");
        assert!(text.contains("characters)"), "{claim}: {text}");
    }
}
