//! A client certificate for mutual TLS (RFC 8705): the client authenticates with it
//! (`tls_client_auth`, `self_signed_tls_client_auth`), and the access tokens the provider
//! binds to it (`cnf.x5t#S256`) are accepted only over a connection that presents it again.

use std::fmt;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

/// The largest certificate or key file read (a chain of a few certificates is a few KiB).
const PEM_FILE_CAP: u64 = 1024 * 1024;

/// A PEM client certificate (chain) and its private key. The key is a secret: it is kept in
/// a [`SecretString`] and never shown by `Debug`.
///
/// The identity provider sees it only through an HTTP client built with it:
/// [`http_client_builder`](Self::http_client_builder) starts from latchkey's own settings
/// ([`crate::http_client`]) and adds it. A resource server that checks certificate-bound
/// tokens needs the same certificate, so build the client for the API from it too.
///
/// ```no_run
/// # fn demo() -> Result<(), latchkey::Error> {
/// let cert = latchkey::ClientCertificate::from_files("client.pem", "client.key")?;
/// // The API client: certificate-bound tokens work only over the same certificate.
/// let api = cert.http_client_builder()?.build().expect("an HTTP client");
/// # let _ = api; Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClientCertificate {
    cert: String,
    key: SecretString,
}

impl ClientCertificate {
    /// A certificate chain and its private key (PKCS#8, PKCS#1 RSA or SEC1 EC), both PEM.
    /// Both are checked here, so a wrong file fails now, with a message that says which.
    pub fn from_pem(cert: impl Into<String>, key: SecretString) -> Result<Self> {
        let cert = cert.into();
        if !cert.contains("-----BEGIN CERTIFICATE-----") {
            return Err(Error::Config(
                "the client certificate is not a PEM certificate (`-----BEGIN CERTIFICATE-----`): \
                 point `client_cert` at the certificate, not the key"
                    .into(),
            ));
        }
        if !key.expose_secret().contains("PRIVATE KEY-----") {
            return Err(Error::Config(
                "the client certificate's key is not a PEM private key: point `client_key` at \
                 the private key (PKCS#8, PKCS#1 or SEC1)"
                    .into(),
            ));
        }
        let found = Self { cert, key };
        found.identity()?;
        Ok(found)
    }

    /// Reads the certificate and key from PEM files.
    pub fn from_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Self> {
        let cert = read_pem("client_cert", cert.as_ref())?;
        let key = SecretString::from(read_pem("client_key", key.as_ref())?);
        Self::from_pem(cert, key)
    }

    /// The certificate chain, PEM (public).
    pub fn certificate_pem(&self) -> &str {
        &self.cert
    }

    /// The certificate and key as a reqwest identity, for an HTTP client of your own.
    pub fn identity(&self) -> Result<reqwest::Identity> {
        let mut pem = zeroize::Zeroizing::new(Vec::with_capacity(
            self.cert.len() + self.key.expose_secret().len() + 1,
        ));
        pem.extend_from_slice(self.key.expose_secret().as_bytes());
        pem.push(b'\n');
        pem.extend_from_slice(self.cert.as_bytes());
        reqwest::Identity::from_pem(&pem).map_err(|e| {
            Error::Config(format!(
                "the client certificate and key cannot be used for TLS ({e}): check that \
                 `client_cert` and `client_key` are PEM files of one certificate and its key"
            ))
        })
    }

    /// latchkey's HTTP client settings ([`crate::http_client_builder`]) with this certificate
    /// presented on every TLS connection: start the client for a resource server here when
    /// its tokens are certificate-bound.
    pub fn http_client_builder(&self) -> Result<reqwest::ClientBuilder> {
        Ok(crate::http::http_client_builder().identity(self.identity()?))
    }

    /// An HTTP client that presents this certificate, with latchkey's settings.
    pub fn http_client(&self) -> Result<reqwest::Client> {
        self.http_client_builder()?
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("cert", &format_args!("{} bytes of PEM", self.cert.len()))
            .field("key", &"[REDACTED]")
            .finish()
    }
}

/// Reads a PEM file for `field`; a missing or unreadable file is an error naming both.
fn read_pem(field: &str, path: &Path) -> Result<String> {
    read_pem_file(path).map_err(|reason| Error::Config(format!("`{field}` {reason}")))
}

/// Reads a PEM file (capped); the error says what is wrong with the path, to follow a
/// field's name.
pub(crate) fn read_pem_file(path: &Path) -> std::result::Result<String, String> {
    match crate::fs::read_text_capped(path, PEM_FILE_CAP) {
        Ok(Some((text, _))) => Ok(text),
        Ok(None) => Err(format!(
            "names {}, which does not exist: point it at the PEM file",
            path.display()
        )),
        Err(e) => Err(format!(
            "names {}, which cannot be read: {e}",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_where_the_certificate_belongs_is_refused_with_the_field_named() {
        let err = ClientCertificate::from_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            SecretString::from("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("client_cert"), "{err}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let err =
            ClientCertificate::from_files("/nonexistent/c.pem", "/nonexistent/k.pem").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("client_cert") && text.contains("/nonexistent/c.pem"),
            "{text}"
        );
    }
}
