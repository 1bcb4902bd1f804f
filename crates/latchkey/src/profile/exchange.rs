//! The profile kinds `token-exchange` and `jwt-bearer`: their grants from the profile's keys.

use std::sync::Arc;

use secrecy::SecretString;

use super::login_options::Env;
use super::token_source::Linked;
use super::{AuthKind, ProfileError, Selected};
use crate::grant::{Grant, JwtBearer, TokenExchange, token_type};

/// A service account key file is a few kilobytes.
const MAX_KEY_FILE: u64 = 64 * 1024;

impl Selected {
    /// `auth = "token-exchange"`: `subject_token` (a source) and its `subject_token_type`
    /// (default: a JWT), optionally `actor_token` + `actor_token_type`, `audience`,
    /// `resource`, `requested_token_type`, `scopes`.
    pub(super) fn token_exchange_grant(
        &self,
        scopes: Vec<String>,
        env: Env<'_>,
        linked: &Linked,
    ) -> Result<Arc<dyn Grant>, ProfileError> {
        let p = &self.profile;
        let spec = p.subject_token.as_ref().ok_or_else(|| {
            ProfileError::missing(&self.name, AuthKind::TokenExchange, "subject_token")
        })?;
        let subject = self.token_source("subject_token", spec, env, linked)?;
        let subject_type = p.subject_token_type.as_deref().unwrap_or(token_type::JWT);
        let mut grant = TokenExchange::builder(subject, subject_type).scopes(scopes);
        if let Some(spec) = &p.actor_token {
            let actor = self.token_source("actor_token", spec, env, linked)?;
            grant = grant.actor(
                actor,
                p.actor_token_type.as_deref().unwrap_or(token_type::JWT),
            );
        }
        if let Some(audience) = &p.audience {
            grant = grant.audience(audience.clone());
        }
        for resource in &p.resource {
            grant = grant.resource(resource.clone());
        }
        if let Some(requested) = &p.requested_token_type {
            grant = grant.requested_token_type(requested.clone());
        }
        Ok(Arc::new(grant.build()))
    }

    /// `auth = "jwt-bearer"`: a Google-style `service_account_key` file; or `private_key`
    /// with `assertion_issuer` (and optionally `assertion_subject`, `assertion_audience`);
    /// or an `assertion` someone else signs (a source).
    pub(super) async fn jwt_bearer_grant(
        &self,
        scopes: Vec<String>,
        env: Env<'_>,
    ) -> Result<Arc<dyn Grant>, ProfileError> {
        let p = &self.profile;
        if let Some(spec) = &p.assertion {
            let source = self.token_source("assertion", spec, env, &[])?;
            return Ok(Arc::new(JwtBearer::from_source(source).scopes(scopes)));
        }
        let mut builder = if let Some(path) = &p.service_account_key {
            let json = match crate::fs::read_text_capped(path, MAX_KEY_FILE) {
                Ok(Some((text, _))) => SecretString::from(text),
                Ok(None) => {
                    return Err(ProfileError::invalid(
                        &self.name,
                        "service_account_key",
                        format!("names {}, which does not exist", path.display()),
                    ));
                }
                Err(e) => {
                    return Err(ProfileError::invalid(
                        &self.name,
                        "service_account_key",
                        format!("names {}, which cannot be read ({e})", path.display()),
                    ));
                }
            };
            JwtBearer::service_account(&json)?
        } else {
            let pem = self
                .secret("private_key", p.private_key.as_ref(), env)
                .await?;
            let issuer = p.assertion_issuer.clone().ok_or_else(|| {
                ProfileError::missing(&self.name, AuthKind::JwtBearer, "assertion_issuer")
            })?;
            JwtBearer::builder(
                super::client_auth::private_key(&pem, p.key_id.clone())?,
                issuer,
            )
        };
        if let Some(subject) = &p.assertion_subject {
            builder = builder.subject(subject.clone());
        }
        if p.assertion_audience == Some(crate::AssertionAudience::Issuer) {
            let issuer = p
                .issuer
                .clone()
                .ok_or_else(|| ProfileError::missing(&self.name, AuthKind::JwtBearer, "issuer"))?;
            builder = builder.audience(issuer);
        }
        Ok(Arc::new(builder.scopes(scopes).build()))
    }
}

#[cfg(test)]
mod tests {
    use crate::profile::{AuthKind, Profile, Selected, TokenSourceSpec};

    fn problems(profile: Profile) -> Vec<String> {
        Selected::new("p", profile)
            .problems()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn with_endpoint(auth: AuthKind) -> Profile {
        let mut p = Profile::new(auth);
        p.token_url = Some("https://idp.example.org/token".into());
        p.client_id = Some("c".into());
        p
    }

    #[test]
    fn each_kind_names_what_it_is_missing_and_is_content_with_a_source() {
        let found = problems(with_endpoint(AuthKind::TokenExchange));
        assert!(
            found.iter().any(|e| e.contains("subject_token")),
            "{found:?}"
        );
        let mut p = with_endpoint(AuthKind::TokenExchange);
        p.subject_token = Some(TokenSourceSpec::File("/var/run/token".into()));
        assert_eq!(problems(p), Vec::<String>::new());

        let found = problems(with_endpoint(AuthKind::JwtBearer));
        assert!(
            found.iter().any(|e| e.contains("service_account_key")),
            "{found:?}"
        );
        let mut p = with_endpoint(AuthKind::JwtBearer);
        p.service_account_key = Some("/etc/sa.json".into());
        assert_eq!(problems(p), Vec::<String>::new());

        // A client assertion source is enough for private_key_jwt.
        let mut p = with_endpoint(AuthKind::ClientCredentials);
        p.client_assertion = Some(TokenSourceSpec::Env("TOKEN".into()));
        assert_eq!(problems(p), Vec::<String>::new());
    }

    #[test]
    fn sources_parse_from_toml() {
        #[derive(serde::Deserialize)]
        struct Holder {
            a: TokenSourceSpec,
            b: TokenSourceSpec,
            c: TokenSourceSpec,
            d: TokenSourceSpec,
        }
        let h: Holder = toml::from_str(
            r#"
a = { file = "/var/run/secrets/tokens/x" }
b = { env = "CI_JWT" }
c = { github_actions = "https://idp.example.org" }
d = { profile = "login" }
"#,
        )
        .unwrap();
        assert_eq!(
            h.a,
            TokenSourceSpec::File("/var/run/secrets/tokens/x".into())
        );
        assert_eq!(h.b, TokenSourceSpec::Env("CI_JWT".into()));
        assert_eq!(
            h.c,
            TokenSourceSpec::GithubActions("https://idp.example.org".into())
        );
        assert_eq!(h.d, TokenSourceSpec::Profile("login".into()));
        assert!(
            toml::from_str::<Holder>(
                "a = { url = \"x\" }\nb = { env = \"B\" }\nc = { env = \"C\" }\nd = { env = \"D\" }"
            )
            .is_err()
        );
    }
}
