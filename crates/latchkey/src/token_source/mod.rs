//! Tokens that another system mints and latchkey only passes on: a Kubernetes projected
//! service-account token or a SPIFFE JWT-SVID in a file that the kubelet or the SPIRE agent
//! rotates, the CI runner's OIDC token (GitHub Actions), a variable, or another profile's
//! access token.
//!
//! A [`TokenSource`] is asked each time a token request needs one, so a rotated token is
//! used from its next request on: nothing here caches a token past the moment its owner
//! replaced it. They feed the token exchange grant ([`crate::grant::TokenExchange`]) as its
//! subject or actor token, the jwt-bearer grant ([`crate::grant::JwtBearer`]) as its
//! assertion, and client authentication ([`crate::ClientAuth::Assertion`]) as an externally
//! issued `client_assertion` (workload identity federation).

mod env;
mod file;
mod github_actions;
mod manager;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::error::Result;

pub use env::EnvToken;
pub use file::FileToken;
pub use github_actions::GithubActionsToken;

/// Where a token minted by someone else comes from.
#[async_trait]
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// The current token. Called for every token request that needs one.
    async fn token(&self) -> Result<SecretString>;

    /// Where the token comes from, for messages (a path, a variable name; never the token).
    fn describe(&self) -> String;
}

#[async_trait]
impl<S: TokenSource + ?Sized> TokenSource for Arc<S> {
    async fn token(&self) -> Result<SecretString> {
        (**self).token().await
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// A fixed token handed over by code (one a caller obtained itself). It cannot be renewed:
/// once the provider refuses it, the caller has to build a new source.
#[derive(Clone)]
pub struct StaticToken(SecretString);

impl StaticToken {
    /// Passes on `token` as it is.
    pub fn new(token: SecretString) -> Self {
        Self(token)
    }
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticToken([REDACTED])")
    }
}

#[async_trait]
impl TokenSource for StaticToken {
    async fn token(&self) -> Result<SecretString> {
        Ok(self.0.clone())
    }
    fn describe(&self) -> String {
        "a token given by the caller".into()
    }
}

/// Refuses a JWT whose `exp` has passed, naming where it came from: the provider would refuse
/// it too, with a message that does not say the rotation stopped. Tokens that are not JWTs
/// (opaque access tokens) pass; nothing is verified here, only read.
pub(crate) fn refuse_expired_jwt(
    token: &str,
    from: &str,
    now: std::time::SystemTime,
) -> Result<()> {
    use base64::Engine as _;
    let Some(payload) = token.split('.').nth(1) else {
        return Ok(());
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else {
        return Ok(());
    };
    #[derive(serde::Deserialize)]
    struct Exp {
        exp: Option<u64>,
    }
    let Ok(Exp { exp: Some(exp) }) = serde_json::from_slice::<Exp>(&bytes) else {
        return Ok(());
    };
    let now = now
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    if exp < now {
        return Err(crate::error::Error::TokenSource {
            from: from.to_owned(),
            reason: format!(
                "the token there expired {} s ago; whatever writes it (the kubelet, a SPIFFE agent, a CI step) has stopped renewing it",
                now - exp
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use base64::Engine as _;

    use super::refuse_expired_jwt;

    fn jwt_with_exp(exp: u64) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!(
            "{}.{}.sig",
            b64(r#"{"alg":"ES256"}"#),
            b64(&format!(r#"{{"exp":{exp}}}"#))
        )
    }

    #[test]
    fn an_expired_jwt_is_refused_and_an_opaque_token_passes() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let err = refuse_expired_jwt(&jwt_with_exp(999_000), "/var/run/token", now).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("/var/run/token") && msg.contains("1000 s ago"),
            "{msg}"
        );
        assert!(refuse_expired_jwt(&jwt_with_exp(1_000_100), "f", now).is_ok());
        assert!(refuse_expired_jwt("opaque-access-token", "f", now).is_ok());
    }
}
