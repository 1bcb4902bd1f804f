//! How a profile's client proves its identity: the method the file names (parsed when the
//! file loads), the default when it names none, and the key for `private_key_jwt`.

use jsonwebtoken::Algorithm;
use secrecy::{ExposeSecret, SecretString};

use super::login_options::Env;
use super::{ProfileError, Selected};
use crate::client_auth::{BasicCredentials, ClientAuth, ClientAuthMethod, PrivateKeyJwt};
use crate::client_secret_jwt::{AssertionAudience, ClientSecretJwt};

impl Selected {
    /// The method in use: the profile's `client_auth`; else, with a secret, the preset's
    /// secret method or `client_secret_basic`; else `private_key_jwt` with a key or a
    /// `client_assertion` source; else `tls_client_auth` with a client certificate; else
    /// `none`.
    pub fn client_auth_method(&self) -> Result<ClientAuthMethod, ProfileError> {
        let p = &self.profile;
        Ok(match (p.client_auth, &p.client_secret, &p.private_key) {
            (Some(method), _, _) => method,
            (None, Some(_), _) => match self.preset()? {
                Some(preset) if preset.client_auth.uses_secret() => preset.client_auth,
                _ => ClientAuthMethod::ClientSecretBasic,
            },
            (None, None, Some(_)) => ClientAuthMethod::PrivateKeyJwt,
            (None, None, None) if p.client_assertion.is_some() => ClientAuthMethod::PrivateKeyJwt,
            (None, None, None) if p.client_cert.is_some() => ClientAuthMethod::TlsClientAuth,
            (None, None, None) => ClientAuthMethod::None,
        })
    }

    /// The client authentication, with its secret or key read; `issuer` is the provider's
    /// (for `assertion_audience = "issuer"`).
    pub(super) async fn client_auth(
        &self,
        env: Env<'_>,
        issuer: &str,
    ) -> Result<ClientAuth, ProfileError> {
        let p = &self.profile;
        let client_secret = || self.secret("client_secret", p.client_secret.as_ref(), env);
        Ok(match self.client_auth_method()? {
            ClientAuthMethod::None => ClientAuth::None,
            ClientAuthMethod::ClientSecretBasic => match p.basic_credentials.unwrap_or_default() {
                BasicCredentials::Raw => ClientAuth::SecretBasicRaw(client_secret().await?),
                _ => ClientAuth::SecretBasic(client_secret().await?),
            },
            ClientAuthMethod::ClientSecretPost => ClientAuth::SecretPost(client_secret().await?),
            ClientAuthMethod::PrivateKeyJwt if p.client_assertion.is_some() => {
                let spec = p.client_assertion.as_ref().expect("checked by the guard");
                ClientAuth::Assertion(self.token_source("client_assertion", spec, env, &[])?)
            }
            ClientAuthMethod::PrivateKeyJwt => {
                let pem = self
                    .secret("private_key", p.private_key.as_ref(), env)
                    .await?;
                ClientAuth::PrivateKeyJwt(private_key(&pem, p.key_id.clone())?)
            }
            ClientAuthMethod::ClientSecretJwt => {
                let signer = ClientSecretJwt::new(client_secret().await?);
                ClientAuth::ClientSecretJwt(match p.assertion_audience.unwrap_or_default() {
                    AssertionAudience::Issuer => signer.audience_issuer(issuer),
                    _ => signer,
                })
            }
            ClientAuthMethod::TlsClientAuth => ClientAuth::TlsClientAuth,
            ClientAuthMethod::SelfSignedTlsClientAuth => ClientAuth::SelfSignedTlsClientAuth,
            #[allow(unreachable_patterns, reason = "ClientAuthMethod is non_exhaustive")]
            other => {
                return Err(ProfileError::invalid(
                    &self.name,
                    "client_auth",
                    format!("is `{other}`, which this build of latchkey cannot use"),
                ));
            }
        })
    }
}

/// The signing key from a PEM: an EC key signs ES256, anything else is tried as RSA (RS256)
/// and then as EC, so a PKCS#8 EC key without the `EC` label still loads.
pub(super) fn private_key(
    pem: &SecretString,
    key_id: Option<String>,
) -> Result<PrivateKeyJwt, ProfileError> {
    let alg = if pem.expose_secret().contains("EC PRIVATE KEY") {
        Algorithm::ES256
    } else {
        Algorithm::RS256
    };
    Ok(PrivateKeyJwt::from_pem(pem, alg, key_id.clone())
        .or_else(|_| PrivateKeyJwt::from_pem(pem, Algorithm::ES256, key_id))?)
}
