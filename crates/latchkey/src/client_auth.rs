//! How the client proves its identity to the token endpoint (RFC 6749 §2.3, RFC 7523).

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use http::HeaderValue;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::client_secret_jwt::ClientSecretJwt;
use crate::error::{Error, Result};

/// The client authentication method at the token, revocation and introspection endpoints.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientAuth {
    /// A public client: only `client_id` is sent (native apps, CLIs, CDSE's public client).
    None,
    /// HTTP Basic with the form-encoded id and secret (RFC 6749 §2.3.1), the default.
    SecretBasic(SecretString),
    /// HTTP Basic with the id and secret as they are, *not* form-encoded first: for providers
    /// that do not decode them (glewlwyd), where a secret with reserved characters sent as
    /// RFC 6749 §2.3.1 asks is refused. Registered as `client_secret_basic`.
    SecretBasicRaw(SecretString),
    /// `client_id` and `client_secret` in the request body.
    SecretPost(SecretString),
    /// A signed JWT assertion (RFC 7523, OIDC `private_key_jwt`).
    PrivateKeyJwt(PrivateKeyJwt),
    /// A JWT assertion signed with the client secret (HS256; OIDC `client_secret_jwt`).
    ClientSecretJwt(ClientSecretJwt),
    /// Mutual TLS with a certificate from a CA the provider trusts (RFC 8705 §2.1): only
    /// `client_id` goes in the body; the certificate is presented by the HTTP client
    /// ([`crate::OAuthClientBuilder::client_certificate`]).
    TlsClientAuth,
    /// Mutual TLS with a self-signed certificate registered with the client (RFC 8705 §2.2);
    /// on the wire the same as [`ClientAuth::TlsClientAuth`].
    SelfSignedTlsClientAuth,
    /// A JWT someone else signed, sent as the `client_assertion` as it is (RFC 7521 §4.2):
    /// workload identity federation with a Kubernetes service-account token, a SPIFFE
    /// JWT-SVID or a CI runner's OIDC token. Registered as `private_key_jwt`.
    Assertion(std::sync::Arc<dyn crate::token_source::TokenSource>),
}

/// A client authentication method by name, without its credentials: what a configuration
/// file or a provider preset names (`token_endpoint_auth_method`, RFC 8414 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientAuthMethod {
    /// `client_secret_basic`.
    ClientSecretBasic,
    /// `client_secret_post`.
    ClientSecretPost,
    /// `private_key_jwt`.
    PrivateKeyJwt,
    /// `none`.
    None,
    /// `client_secret_jwt`.
    ClientSecretJwt,
    /// `tls_client_auth` (RFC 8705 §2.1).
    TlsClientAuth,
    /// `self_signed_tls_client_auth` (RFC 8705 §2.2).
    SelfSignedTlsClientAuth,
}

impl ClientAuthMethod {
    /// Every method, in the order the names are listed to users.
    pub const ALL: [ClientAuthMethod; 7] = [
        ClientAuthMethod::ClientSecretBasic,
        ClientAuthMethod::ClientSecretPost,
        ClientAuthMethod::PrivateKeyJwt,
        ClientAuthMethod::None,
        ClientAuthMethod::ClientSecretJwt,
        ClientAuthMethod::TlsClientAuth,
        ClientAuthMethod::SelfSignedTlsClientAuth,
    ];

    /// The registered name, as in `token_endpoint_auth_method`.
    pub fn name(self) -> &'static str {
        match self {
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
            ClientAuthMethod::PrivateKeyJwt => "private_key_jwt",
            ClientAuthMethod::None => "none",
            ClientAuthMethod::ClientSecretJwt => "client_secret_jwt",
            ClientAuthMethod::TlsClientAuth => "tls_client_auth",
            ClientAuthMethod::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    /// Parses a registered name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Whether the method needs the client secret (sent, or signing an assertion).
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            ClientAuthMethod::ClientSecretBasic
                | ClientAuthMethod::ClientSecretPost
                | ClientAuthMethod::ClientSecretJwt
        )
    }

    /// Whether the method is mutual TLS (RFC 8705 §2): it needs a client certificate.
    pub fn uses_certificate(self) -> bool {
        matches!(
            self,
            ClientAuthMethod::TlsClientAuth | ClientAuthMethod::SelfSignedTlsClientAuth
        )
    }
}

impl fmt::Display for ClientAuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl ClientAuth {
    /// Whether this sends the secret form-encoded in a Basic header (RFC 6749 §2.3.1) and
    /// the encoding changes it (anything but letters, digits and `*-._`): a provider that
    /// compares it without decoding then refuses it.
    pub(crate) fn basic_encoding_changes_secret(&self) -> bool {
        match self {
            ClientAuth::SecretBasic(secret) => secret
                .expose_secret()
                .bytes()
                .any(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_'))),
            _ => false,
        }
    }

    /// The method, without its credentials.
    pub fn method(&self) -> ClientAuthMethod {
        match self {
            ClientAuth::None => ClientAuthMethod::None,
            ClientAuth::SecretBasic(_) | ClientAuth::SecretBasicRaw(_) => {
                ClientAuthMethod::ClientSecretBasic
            }
            ClientAuth::SecretPost(_) => ClientAuthMethod::ClientSecretPost,
            ClientAuth::PrivateKeyJwt(_) | ClientAuth::Assertion(_) => {
                ClientAuthMethod::PrivateKeyJwt
            }
            ClientAuth::ClientSecretJwt(_) => ClientAuthMethod::ClientSecretJwt,
            ClientAuth::TlsClientAuth => ClientAuthMethod::TlsClientAuth,
            ClientAuth::SelfSignedTlsClientAuth => ClientAuthMethod::SelfSignedTlsClientAuth,
        }
    }

    /// The method's registered name, as in `token_endpoint_auth_method`.
    pub fn method_name(&self) -> &'static str {
        self.method().name()
    }

    /// Adds this method's credentials to a request about to go to `audience`.
    pub(crate) async fn apply(
        &self,
        client_id: &str,
        audience: &Url,
        form: &mut Vec<(String, String)>,
    ) -> Result<Option<HeaderValue>> {
        match self {
            ClientAuth::None | ClientAuth::TlsClientAuth | ClientAuth::SelfSignedTlsClientAuth => {
                form.push(("client_id".into(), client_id.into()));
                Ok(None)
            }
            ClientAuth::SecretBasic(secret) => {
                Ok(Some(basic_header(client_id, secret.expose_secret())?))
            }
            ClientAuth::SecretBasicRaw(secret) => {
                Ok(Some(raw_basic_header(client_id, secret.expose_secret())?))
            }
            ClientAuth::SecretPost(secret) => {
                form.push(("client_id".into(), client_id.into()));
                form.push(("client_secret".into(), secret.expose_secret().to_owned()));
                Ok(None)
            }
            ClientAuth::PrivateKeyJwt(key) => {
                push_assertion(form, client_id, key.assertion(client_id, audience)?);
                Ok(None)
            }
            ClientAuth::ClientSecretJwt(secret) => {
                push_assertion(form, client_id, secret.assertion(client_id, audience)?);
                Ok(None)
            }
            ClientAuth::Assertion(source) => {
                let assertion = source.token().await?;
                push_assertion(form, client_id, assertion.expose_secret().to_owned());
                Ok(None)
            }
        }
    }
}

/// A JWT client assertion in the body (RFC 7521 §4.2), however it was made.
fn push_assertion(form: &mut Vec<(String, String)>, client_id: &str, assertion: String) {
    form.push(("client_id".into(), client_id.into()));
    form.push((
        "client_assertion_type".into(),
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
    ));
    form.push(("client_assertion".into(), assertion));
}

/// `Authorization: Basic` for client credentials. RFC 6749 §2.3.1 requires the id and secret
/// to be form-encoded *before* base64: a secret holding `:` or `%` breaks clients that skip it.
pub(crate) fn basic_header(client_id: &str, secret: &str) -> Result<HeaderValue> {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    basic_value(&format!("{}:{}", encode(client_id), encode(secret)))
}

/// `Authorization: Basic` with the id and secret as they are (RFC 7617), for providers that do
/// not form-decode them. A `:` in the id would move the split, so it is refused.
pub(crate) fn raw_basic_header(client_id: &str, secret: &str) -> Result<HeaderValue> {
    if client_id.contains(':') {
        return Err(Error::Config(
            "a client id with `:` cannot be sent as raw Basic credentials: use the default (form-encoded) Basic or `client_secret_post`".into(),
        ));
    }
    basic_value(&format!("{client_id}:{secret}"))
}

/// `Basic <base64 of id:secret>`, marked sensitive.
fn basic_value(id_and_secret: &str) -> Result<HeaderValue> {
    let mut value = HeaderValue::try_from(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(id_and_secret)
    ))
    .map_err(|_| Error::Config("client credentials cannot be put in a header".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// How a profile sends `client_secret_basic` credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum BasicCredentials {
    /// Form-encoded before base64, as RFC 6749 §2.3.1 requires (the default).
    #[default]
    Encoded,
    /// As they are: for providers that do not decode them (glewlwyd).
    Raw,
}

/// A private key that signs client assertions for `private_key_jwt`.
#[derive(Clone)]
pub struct PrivateKeyJwt {
    key: EncodingKey,
    algorithm: Algorithm,
    key_id: Option<String>,
    lifetime: Duration,
}

impl PrivateKeyJwt {
    /// Reads a PEM private key (PKCS#8 or PKCS#1 RSA, or SEC1/PKCS#8 EC) for `algorithm`
    /// (RS256/RS384/RS512/PS256…, ES256/ES384).
    pub fn from_pem(
        pem: &SecretString,
        algorithm: Algorithm,
        key_id: Option<String>,
    ) -> Result<Self> {
        let bytes = pem.expose_secret().as_bytes();
        let key = match algorithm {
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 | Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 => {
                EncodingKey::from_rsa_pem(bytes)
            }
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(bytes),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(bytes),
            other => {
                return Err(Error::Config(format!(
                    "private_key_jwt needs an asymmetric algorithm, not {other:?}: use RS256, PS256, ES256 or EdDSA"
                )));
            }
        }
        .map_err(|e| Error::Config(format!("the private key is not a valid {algorithm:?} PEM key ({e})")))?;
        Ok(Self {
            key,
            algorithm,
            key_id,
            lifetime: Duration::from_secs(60),
        })
    }

    /// How long each assertion is valid (default 60 s).
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Signs `claims` with this key, with `typ` in the header when given: the one signing
    /// path for what latchkey signs with the client's key (client assertions here,
    /// jwt-bearer grant assertions in `grant::jwt_bearer`, request objects, RFC 9101).
    pub(crate) fn sign(&self, typ: Option<&str>, claims: &impl Serialize) -> Result<String> {
        let mut header = Header::new(self.algorithm);
        header.kid = self.key_id.clone();
        header.typ = typ.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &self.key)
            .map_err(|e| Error::Config(format!("cannot sign with the private key ({e})")))
    }

    fn assertion(&self, client_id: &str, audience: &Url) -> Result<String> {
        let claims = crate::assertion_claims::AssertionClaims::new(
            client_id,
            audience.as_str(),
            self.lifetime,
        );
        let mut header = Header::new(self.algorithm);
        header.kid = self.key_id.clone();
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| Error::Config(format!("cannot sign the client assertion ({e})")))
    }
}

impl fmt::Debug for PrivateKeyJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKeyJwt")
            .field("key", &"[REDACTED]")
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_basic_secret_the_encoding_changes_is_flagged() {
        let basic = |s: &str| ClientAuth::SecretBasic(s.to_owned().into());
        assert!(basic("s3cr:t+/").basic_encoding_changes_secret());
        assert!(!basic("plain-Secret_1.*").basic_encoding_changes_secret());
        let post = ClientAuth::SecretPost("s3cr:t+/".to_owned().into());
        assert!(!post.basic_encoding_changes_secret());
        let raw = ClientAuth::SecretBasicRaw("s3cr:t+/".to_owned().into());
        assert!(!raw.basic_encoding_changes_secret());
    }

    #[test]
    fn raw_basic_header_keeps_reserved_characters() {
        let header = raw_basic_header("gw-reserved", "s3cr:t+/ %&=~").unwrap();
        let b64 = header.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(raw, b"gw-reserved:s3cr:t+/ %&=~");
        assert!(header.is_sensitive());
        assert!(raw_basic_header("a:b", "s").is_err());
    }

    #[test]
    fn basic_header_form_encodes_before_base64() {
        let header = basic_header("my client", "s3cr:t+/ %&=").unwrap();
        let b64 = header.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let raw = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(raw, "my+client:s3cr%3At%2B%2F+%25%26%3D");
        assert!(header.is_sensitive());
    }

    #[test]
    fn symmetric_algorithms_are_refused_for_private_key_jwt() {
        let err =
            PrivateKeyJwt::from_pem(&SecretString::from("x"), Algorithm::HS256, None).unwrap_err();
        assert!(err.to_string().contains("asymmetric"), "{err}");
    }

    #[test]
    fn debug_hides_secrets() {
        let auth = ClientAuth::SecretPost(SecretString::from("hunter2"));
        assert!(!format!("{auth:?}").contains("hunter2"));
    }
}
