//! Everything wrong with a profile that can be told before it is used: the fields its kind
//! needs, URLs it could not use, a preset it could not fill in. No network, no secrets read.
//!
//! The checks are the resolver's own (the same missing-field and URL rules as
//! [`Selected::endpoints`], [`Selected::static_auth`] and [`Selected::managed`]), collected
//! instead of stopping at the first, so a person fixing a profile sees every problem at once.

use url::Url;

use super::{AuthKind, ProfileError, Selected};
use crate::client_auth::ClientAuthMethod;
use crate::preset::Resolved;

impl Selected {
    /// Every problem this profile has that would stop it from being used, in field order;
    /// empty when it can be used (its secrets and its identity provider are not checked:
    /// they are read and asked only when the profile is used).
    pub fn problems(&self) -> Vec<ProfileError> {
        let mut found = Vec::new();
        self.check_urls(&mut found);
        if self.profile.auth.is_static() {
            self.check_static(&mut found);
        } else {
            self.check_oauth(&mut found);
        }
        found
    }

    fn check_urls(&self, found: &mut Vec<ProfileError>) {
        let p = &self.profile;
        let endpoints = [
            ("issuer", &p.issuer),
            ("token_url", &p.token_url),
            ("authorization_url", &p.authorization_url),
            ("device_authorization_url", &p.device_authorization_url),
            ("revocation_url", &p.revocation_url),
            ("base_url", &p.base_url),
        ];
        for (field, value) in endpoints {
            if let Some(reason) = value.as_deref().and_then(url_problem) {
                found.push(ProfileError::invalid(&self.name, field, reason));
            }
        }
        if let Some(raw) = &p.redirect_uri {
            let reason = match Url::parse(raw) {
                Err(e) => Some(format!("is not a valid URL ({e})")),
                Ok(url) if url.scheme() != "http" || !crate::http::is_loopback(&url) => Some(
                    "must be an http URL on this machine (127.0.0.1, [::1] or localhost): the \
                     login listens there for the browser's redirect"
                        .into(),
                ),
                Ok(_) => None,
            };
            if let Some(reason) = reason {
                found.push(ProfileError::invalid(&self.name, "redirect_uri", reason));
            }
        }
    }

    fn check_static(&self, found: &mut Vec<ProfileError>) {
        let p = &self.profile;
        let needed: &[(&str, bool)] = match p.auth {
            AuthKind::Basic => &[
                ("username", p.username.is_some()),
                ("password", p.password.is_some()),
            ],
            AuthKind::ApiToken | AuthKind::Bearer => &[("token", p.token.is_some())],
            AuthKind::Headers => &[("headers", !p.headers.is_empty())],
            AuthKind::Query => &[("query", !p.query.is_empty())],
            _ => &[],
        };
        self.require(needed, found);
    }

    fn check_oauth(&self, found: &mut Vec<ProfileError>) {
        let p = &self.profile;
        let preset = match self.preset() {
            Ok(preset) => preset,
            Err(err) => {
                found.push(err);
                None
            }
        };
        let public_client = preset.and_then(|p| p.public_client_id).is_some();
        self.require(
            &[("client_id", p.client_id.is_some() || public_client)],
            found,
        );
        // Where the endpoints come from: the preset's templates, else the issuer's discovery,
        // else the explicit URLs.
        let mut fixed = None;
        let mut discovers = p.issuer.is_some();
        if let Some(preset) = preset {
            match preset.resolve(&self.preset_vars(preset)) {
                Ok(Resolved::Static(m)) => fixed = Some(m),
                Ok(_) => discovers = true,
                Err(err) => found.push(err.into()),
            }
        } else if p.issuer.is_none() && p.token_url.is_none() {
            found.push(ProfileError::missing(
                &self.name,
                p.auth,
                "issuer` or `token_url",
            ));
        }
        if !discovers {
            let fixed_has = |pick: fn(&crate::oidc::ProviderMetadata) -> bool| {
                fixed.as_deref().is_some_and(pick)
            };
            match p.auth {
                AuthKind::DeviceCode => self.require(
                    &[(
                        "device_authorization_url",
                        p.device_authorization_url.is_some()
                            || fixed_has(|m| m.device_authorization_endpoint.is_some()),
                    )],
                    found,
                ),
                AuthKind::AuthorizationCode => self.require(
                    &[(
                        "authorization_url",
                        p.authorization_url.is_some()
                            || fixed_has(|m| m.authorization_endpoint.is_some()),
                    )],
                    found,
                ),
                _ => {}
            }
        }
        match self.client_auth_method() {
            Ok(
                ClientAuthMethod::ClientSecretBasic
                | ClientAuthMethod::ClientSecretPost
                | ClientAuthMethod::ClientSecretJwt,
            ) => {
                self.require(&[("client_secret", p.client_secret.is_some())], found);
            }
            Ok(ClientAuthMethod::TlsClientAuth | ClientAuthMethod::SelfSignedTlsClientAuth) => {
                self.require(
                    &[
                        ("client_cert", p.client_cert.is_some()),
                        ("client_key", p.client_key.is_some()),
                    ],
                    found,
                );
            }
            Ok(ClientAuthMethod::PrivateKeyJwt) => {
                self.require(
                    &[(
                        "private_key` or `client_assertion",
                        p.private_key.is_some() || p.client_assertion.is_some(),
                    )],
                    found,
                );
            }
            Ok(_) => {}
            // The unknown preset was reported above.
            Err(_) => {}
        }
        if p.assertion_audience == Some(crate::AssertionAudience::Issuer)
            && p.issuer.is_none()
            && p.preset.is_none()
        {
            found.push(ProfileError::invalid(
                &self.name,
                "assertion_audience",
                "is `issuer`, and the profile has no `issuer`: set it, or use `token_endpoint`",
            ));
        }
        match p.auth {
            AuthKind::Password => self.require(
                &[
                    ("username", p.username.is_some()),
                    ("password", p.password.is_some()),
                ],
                found,
            ),
            AuthKind::RefreshToken => {
                self.require(&[("refresh_token", p.refresh_token.is_some())], found);
            }
            AuthKind::TokenExchange => {
                self.require(&[("subject_token", p.subject_token.is_some())], found);
            }
            AuthKind::JwtBearer => self.require(
                &[(
                    "service_account_key`, `private_key` + `assertion_issuer` or `assertion",
                    p.service_account_key.is_some()
                        || p.assertion.is_some()
                        || (p.private_key.is_some() && p.assertion_issuer.is_some()),
                )],
                found,
            ),
            _ => {}
        }
    }

    fn require(&self, needed: &[(&str, bool)], found: &mut Vec<ProfileError>) {
        for (field, present) in needed {
            if !present {
                found.push(ProfileError::missing(&self.name, self.profile.auth, field));
            }
        }
    }
}

/// Why `raw` cannot be an endpoint or API URL: https, or http to this machine only (the
/// rule of every endpoint the library calls).
fn url_problem(raw: &str) -> Option<String> {
    let url = match Url::parse(raw) {
        Ok(url) => url,
        Err(e) => return Some(format!("is not a valid URL ({e})")),
    };
    match url.scheme() {
        "https" => None,
        "http" if crate::http::is_loopback(&url) => None,
        "http" => Some(
            "uses plain HTTP to a host other than this machine; use https (http only for \
             127.0.0.1, [::1] or localhost)"
                .into(),
        ),
        other => Some(format!(
            "has the scheme `{other}`; use https (http only for 127.0.0.1, [::1] or localhost)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Profile, SecretRef};

    fn problems(profile: Profile) -> Vec<String> {
        Selected::new("p", profile)
            .problems()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn every_missing_field_is_listed_at_once() {
        let found = problems(Profile::new(AuthKind::DeviceCode));
        assert_eq!(
            found,
            [
                "profile `p`: auth `device-code` needs `client_id`",
                "profile `p`: auth `device-code` needs `issuer` or `token_url`",
                "profile `p`: auth `device-code` needs `device_authorization_url`",
            ]
        );
        let found = problems(Profile::new(AuthKind::Basic));
        assert_eq!(found.len(), 2, "{found:?}");
    }

    #[test]
    fn urls_are_https_or_loopback_http() {
        let mut p = Profile::new(AuthKind::ClientCredentials);
        p.client_id = Some("c".into());
        p.issuer = Some("htps://idp.example".into());
        p.base_url = Some("http://api.example".into());
        p.redirect_uri = Some("https://127.0.0.1/cb".into());
        let found = problems(p.clone());
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found[0].contains("`issuer` has the scheme `htps`"),
            "{found:?}"
        );
        assert!(found[1].contains("`base_url` uses plain HTTP"), "{found:?}");
        assert!(found[2].contains("`redirect_uri`"), "{found:?}");
        p.issuer = Some("http://127.0.0.1:9/x".into());
        p.base_url = Some("https://api.example".into());
        p.redirect_uri = Some("http://localhost:8765".into());
        assert!(problems(p).is_empty());
    }

    #[test]
    fn presets_fill_what_they_can() {
        let mut p = Profile::new(AuthKind::DeviceCode);
        p.preset = Some("cdse".into());
        assert!(problems(p.clone()).is_empty(), "{:?}", problems(p));
        let mut p = Profile::new(AuthKind::ClientCredentials);
        p.preset = Some("nope".into());
        p.client_id = Some("c".into());
        let found = problems(p);
        assert!(found[0].contains("nope"), "{found:?}");
        let mut p = Profile::new(AuthKind::ClientCredentials);
        p.issuer = Some("https://idp.example".into());
        p.client_id = Some("c".into());
        p.client_auth = Some(ClientAuthMethod::ClientSecretPost);
        assert_eq!(
            problems(p.clone()),
            ["profile `p`: auth `client-credentials` needs `client_secret`"]
        );
        p.client_secret = Some(SecretRef::Env { env: "S".into() });
        assert!(problems(p).is_empty());
    }
}
