//! A profile's client certificate for mutual TLS (`client_cert`, `client_key`), and the HTTP
//! client for its API that presents it: certificate-bound tokens (RFC 8705 §3) are accepted
//! only over the certificate they were issued to.

use secrecy::SecretString;

use super::{ProfileError, Selected};
use crate::client_cert::{ClientCertificate, read_pem_file};

impl Selected {
    /// The client certificate named by `client_cert` and `client_key`, read now; `None` when
    /// the profile names none. One without the other, a relative path, or a file that is
    /// missing or not PEM is an error naming the field.
    pub fn client_certificate(&self) -> Result<Option<ClientCertificate>, ProfileError> {
        let p = &self.profile;
        let (cert, key) = match (&p.client_cert, &p.client_key) {
            (None, None) => return Ok(None),
            (Some(cert), Some(key)) => (cert, key),
            (Some(_), None) => return Err(self.pair_problem("client_key")),
            (None, Some(_)) => return Err(self.pair_problem("client_cert")),
        };
        let read = |field: &str, path: &std::path::Path| {
            if !path.is_absolute() {
                return Err(ProfileError::invalid(
                    &self.name,
                    field,
                    "must be an absolute path",
                ));
            }
            read_pem_file(path).map_err(|reason| ProfileError::invalid(&self.name, field, reason))
        };
        let cert = read("client_cert", cert)?;
        let key = SecretString::from(read("client_key", key)?);
        Ok(Some(ClientCertificate::from_pem(cert, key)?))
    }

    /// An HTTP client builder for this profile's API: latchkey's settings
    /// ([`crate::http_client_builder`]) with the profile's client certificate when it has
    /// one. A certificate-bound access token only works over it, so build the client that
    /// carries the token (for example under `latchkey-reqwest`'s middleware) from here.
    pub fn http_client_builder(&self) -> Result<reqwest::ClientBuilder, ProfileError> {
        Ok(match self.client_certificate()? {
            Some(cert) => cert.http_client_builder()?,
            None => crate::http::http_client_builder(),
        })
    }

    fn pair_problem(&self, missing: &str) -> ProfileError {
        ProfileError::invalid(
            &self.name,
            missing,
            "is missing: `client_cert` and `client_key` go together (mutual TLS needs both)",
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::client_auth::ClientAuthMethod;
    use crate::client_secret_jwt::AssertionAudience;
    use crate::profile::{ProfilesFile, Selected};

    fn selected(body: &str) -> Selected {
        let text = format!(
            "[profiles.m]\nauth = \"client-credentials\"\nissuer = \"https://idp.example\"\nclient_id = \"c\"\n{body}"
        );
        let file = ProfilesFile::parse(Path::new("p.toml"), &text).unwrap();
        Selected::new("m", file.profiles["m"].clone())
    }

    fn problems(s: &Selected) -> Vec<String> {
        s.problems().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_new_keys_parse_and_pick_their_methods() {
        let s = selected(
            "client_auth = \"client_secret_jwt\"\nclient_secret = { env = \"S\" }\nassertion_audience = \"issuer\"\n",
        );
        assert_eq!(
            s.client_auth_method().unwrap(),
            ClientAuthMethod::ClientSecretJwt
        );
        assert_eq!(
            s.profile.assertion_audience,
            Some(AssertionAudience::Issuer)
        );
        assert!(problems(&s).is_empty(), "{:?}", problems(&s));
        // A certificate and nothing else: tls_client_auth.
        let s = selected("client_cert = \"/etc/c.pem\"\nclient_key = \"/etc/c.key\"\n");
        assert_eq!(
            s.client_auth_method().unwrap(),
            ClientAuthMethod::TlsClientAuth
        );
        let s = selected(
            "client_auth = \"self_signed_tls_client_auth\"\nclient_cert = \"/etc/c.pem\"\nclient_key = \"/etc/c.key\"\n",
        );
        assert_eq!(
            s.client_auth_method().unwrap(),
            ClientAuthMethod::SelfSignedTlsClientAuth
        );
        let err = ProfilesFile::parse(
            Path::new("p.toml"),
            "[profiles.m]\nauth = \"client-credentials\"\nassertion_audience = \"everyone\"\n",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("`token_endpoint` or `issuer`"),
            "{err}"
        );
    }

    #[test]
    fn what_each_method_needs_is_reported() {
        let s = selected("client_auth = \"tls_client_auth\"\n");
        assert_eq!(
            problems(&s),
            [
                "profile `m`: auth `client-credentials` needs `client_cert`",
                "profile `m`: auth `client-credentials` needs `client_key`",
            ]
        );
        let s = selected("client_auth = \"client_secret_jwt\"\n");
        assert_eq!(
            problems(&s),
            ["profile `m`: auth `client-credentials` needs `client_secret`"]
        );
    }

    #[test]
    fn certificate_files_missing_unpaired_or_relative_are_named() {
        // Absolute on every platform (`/etc/…` has no drive letter on Windows); TOML literal
        // strings, so a Windows path's backslashes stay as they are.
        let dir = std::env::temp_dir().join("latchkey-nonexistent");
        let (cert, key) = (dir.join("c.pem"), dir.join("c.key"));
        let s = selected(&format!(
            "client_cert = '{}'\nclient_key = '{}'\n",
            cert.display(),
            key.display()
        ));
        let err = s.client_certificate().unwrap_err().to_string();
        assert!(
            err.contains("`client_cert`")
                && err.contains(&cert.display().to_string())
                && err.contains("does not exist"),
            "{err}"
        );
        let s = selected(&format!("client_cert = '{}'\n", cert.display()));
        let err = s.client_certificate().unwrap_err().to_string();
        assert!(err.contains("`client_key` is missing"), "{err}");
        let s = selected("client_cert = \"c.pem\"\nclient_key = \"c.key\"\n");
        let err = s.client_certificate().unwrap_err().to_string();
        assert!(
            err.contains("`client_cert` must be an absolute path"),
            "{err}"
        );
        assert!(selected("").client_certificate().unwrap().is_none());
    }
}
