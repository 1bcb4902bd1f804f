//! Declarative auth schemes: the five DHIS2 route auth variants, as JSON.
//!
//! DHIS2 stores a route's credentials as a JSON object tagged by `type`; the wire names and
//! field names below are that contract (DHIS2 `RouteAuthScheme`), so a route definition can
//! be used here unchanged and written back without loss.

use std::collections::BTreeMap;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use super::{AuthKind, LoginOptions, Profile, ProfileAuth, ProfileError, SecretRef, Selected};
use super::{StoreSpec, credentials};
use crate::authenticator::Authenticator;
use crate::client_auth::ClientAuthMethod;
use crate::store::{MemoryStore, TokenStore};

/// The `type` values [`AuthScheme`] accepts, in the order DHIS2 documents them.
pub const SCHEME_TYPES: [&str; 5] = [
    "http-basic",
    "api-token",
    "api-headers",
    "api-query-params",
    "oauth2-client-credentials",
];

/// How to authenticate against one upstream API, as a DHIS2 route stores it.
///
/// `Debug` never shows a secret; [`Serialize`] writes them (it produces the wire format),
/// so only serialize into places as protected as the source.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum AuthScheme {
    /// `http-basic`: `Authorization: Basic …`.
    #[serde(rename = "http-basic")]
    HttpBasic {
        /// The user name.
        username: String,
        /// The password.
        #[serde(serialize_with = "expose")]
        password: SecretString,
    },
    /// `api-token`: `Authorization: ApiToken …` (DHIS2 personal access tokens).
    #[serde(rename = "api-token")]
    ApiToken {
        /// The token.
        #[serde(serialize_with = "expose")]
        token: SecretString,
    },
    /// `api-headers`: fixed headers, e.g. `X-API-Key`.
    #[serde(rename = "api-headers")]
    ApiHeaders {
        /// Header name → value.
        #[serde(serialize_with = "expose_map")]
        headers: BTreeMap<String, SecretString>,
    },
    /// `api-query-params`: fixed query parameters, e.g. `?api_key=…`.
    #[serde(rename = "api-query-params")]
    ApiQueryParams {
        /// Parameter name → value.
        #[serde(rename = "queryParams", serialize_with = "expose_map")]
        query_params: BTreeMap<String, SecretString>,
    },
    /// `oauth2-client-credentials`: a bearer token from the client credentials grant.
    #[serde(rename = "oauth2-client-credentials")]
    OAuth2ClientCredentials {
        /// The client id.
        #[serde(rename = "clientId")]
        client_id: String,
        /// The client secret (sent with HTTP Basic, RFC 6749 §2.3.1).
        #[serde(rename = "clientSecret", serialize_with = "expose")]
        client_secret: SecretString,
        /// The token endpoint.
        #[serde(rename = "tokenUri")]
        token_uri: String,
        /// The scopes, one space-separated string as DHIS2 stores them (RFC 6749 §3.3).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        scopes: String,
    },
}

/// Why an auth scheme document was refused.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SchemeError {
    /// The `type` is not one of [`SCHEME_TYPES`].
    #[error("unknown auth scheme type `{found}`; valid types: {}", SCHEME_TYPES.join(", "))]
    UnknownType {
        /// The `type` found.
        found: String,
    },
    /// The document is not valid JSON or misses a field.
    #[error("invalid auth scheme{}: {reason}", if *line > 0 { format!(" at line {line}, column {column}") } else { String::new() })]
    Invalid {
        /// 1-based line, 0 when unknown (a field missing inside a tagged object).
        line: usize,
        /// 1-based column, 0 when unknown.
        column: usize,
        /// What is wrong.
        reason: String,
    },
}

impl SchemeError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            SchemeError::UnknownType { .. } => format!(
                "set `type` to one of {}",
                SCHEME_TYPES.map(|t| format!("`{t}`")).join(", ")
            ),
            SchemeError::Invalid { .. } => {
                "compare the object with the DHIS2 route auth scheme fields (docs/cli.md)".into()
            }
        }
    }
}

impl AuthScheme {
    /// Parses one scheme from JSON; errors name the line and column, and an unknown `type`
    /// lists the valid ones.
    pub fn from_json(json: &str) -> Result<Self, SchemeError> {
        serde_json::from_str(json).map_err(|e| classify(json, &e))
    }

    /// Parses a JSON document holding one scheme object or an array of them.
    pub fn list_from_json(json: &str) -> Result<Vec<Self>, SchemeError> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            Many(Vec<serde_json::Value>),
            One(serde_json::Value),
        }
        let values =
            match serde_json::from_str::<OneOrMany>(json).map_err(|e| classify(json, &e))? {
                OneOrMany::Many(v) => v,
                OneOrMany::One(v) => vec![v],
            };
        values
            .into_iter()
            .map(|value| {
                // Re-serializing a parsed value cannot fail; the error positions then refer
                // to that object, so check the type first for the useful message.
                if let Some(t) = value.get("type").and_then(|t| t.as_str())
                    && !SCHEME_TYPES.contains(&t)
                {
                    return Err(SchemeError::UnknownType { found: t.into() });
                }
                serde_json::from_value(value).map_err(|e| SchemeError::Invalid {
                    line: 0,
                    column: 0,
                    reason: crate::redact::scrub_serde_error(&e),
                })
            })
            .collect()
    }

    /// The wire name of this scheme's `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            AuthScheme::HttpBasic { .. } => SCHEME_TYPES[0],
            AuthScheme::ApiToken { .. } => SCHEME_TYPES[1],
            AuthScheme::ApiHeaders { .. } => SCHEME_TYPES[2],
            AuthScheme::ApiQueryParams { .. } => SCHEME_TYPES[3],
            AuthScheme::OAuth2ClientCredentials { .. } => SCHEME_TYPES[4],
        }
    }

    /// The profile this scheme describes: the same kinds, fields and defaults a profile
    /// file would give, so a route and a profile of the same kind build the same client.
    /// The secrets are handed over as values; OAuth 2 tokens are kept in memory.
    pub fn to_profile(&self) -> Profile {
        let value = |secret: &SecretString| SecretRef::Value(secret.clone());
        let values = |map: &BTreeMap<String, SecretString>| {
            map.iter().map(|(k, v)| (k.clone(), value(v))).collect()
        };
        match self {
            AuthScheme::HttpBasic { username, password } => {
                let mut p = Profile::new(AuthKind::Basic);
                p.username = Some(username.clone());
                p.password = Some(value(password));
                p
            }
            AuthScheme::ApiToken { token } => {
                let mut p = Profile::new(AuthKind::ApiToken);
                p.token = Some(value(token));
                p
            }
            AuthScheme::ApiHeaders { headers } => {
                let mut p = Profile::new(AuthKind::Headers);
                p.headers = values(headers);
                p
            }
            AuthScheme::ApiQueryParams { query_params } => {
                let mut p = Profile::new(AuthKind::Query);
                p.query = values(query_params);
                p
            }
            AuthScheme::OAuth2ClientCredentials {
                client_id,
                client_secret,
                token_uri,
                scopes,
            } => {
                let mut p = Profile::new(AuthKind::ClientCredentials);
                p.client_id = Some(client_id.clone());
                p.client_secret = Some(value(client_secret));
                // DHIS2 sends route secrets with HTTP Basic (RFC 6749 §2.3.1).
                p.client_auth = Some(ClientAuthMethod::ClientSecretBasic);
                p.token_url = Some(token_uri.clone());
                p.scopes = scopes.split_whitespace().map(str::to_owned).collect();
                p.store = Some(StoreSpec::Memory);
                p
            }
        }
    }

    /// An [`Authenticator`] for this scheme: a static credential, or for
    /// `oauth2-client-credentials` a token manager with an in-memory store.
    pub async fn authenticator(&self) -> Result<Arc<dyn Authenticator>, ProfileError> {
        self.authenticator_with_store(Arc::new(MemoryStore::new()), "route")
            .await
    }

    /// Like [`AuthScheme::authenticator`], keeping OAuth 2 tokens in `store` under `key`.
    pub async fn authenticator_with_store(
        &self,
        store: Arc<dyn TokenStore>,
        key: &str,
    ) -> Result<Arc<dyn Authenticator>, ProfileError> {
        let selected = Selected::new(key, self.to_profile());
        let auth: ProfileAuth = selected
            .authenticate_with_store(store, &credentials::no_env, &LoginOptions::default())
            .await?;
        Ok(auth.authenticator())
    }
}

fn classify(json: &str, err: &serde_json::Error) -> SchemeError {
    // serde names an unknown internally-tagged variant in its message; find the `type`
    // value ourselves so the error is ours, with the full list of valid types.
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(json) {
        let found = match &value {
            serde_json::Value::Array(items) => items
                .iter()
                .filter_map(|v| v.get("type").and_then(|t| t.as_str()))
                .find(|t| !SCHEME_TYPES.contains(t)),
            other => other
                .get("type")
                .and_then(|t| t.as_str())
                .filter(|t| !SCHEME_TYPES.contains(t)),
        };
        if let Some(found) = found {
            return SchemeError::UnknownType {
                found: found.into(),
            };
        }
    }
    SchemeError::Invalid {
        line: err.line(),
        column: err.column(),
        reason: crate::redact::scrub_serde_error(err),
    }
}

fn expose<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}

fn expose_map<S: Serializer>(
    map: &BTreeMap<String, SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(map.iter().map(|(k, v)| (k, v.expose_secret())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;
    use url::Url;

    const ALL: &str = r#"[
      {"type":"http-basic","username":"admin","password":"district"},
      {"type":"api-token","token":"d2p_abc"},
      {"type":"api-headers","headers":{"X-API-Key":"k1"}},
      {"type":"api-query-params","queryParams":{"api_key":"q1"}},
      {"type":"oauth2-client-credentials","clientId":"c","clientSecret":"s","tokenUri":"https://idp.example/token","scopes":"read write"}
    ]"#;

    #[test]
    fn every_variant_round_trips() {
        let schemes = AuthScheme::list_from_json(ALL).unwrap();
        let types: Vec<_> = schemes.iter().map(AuthScheme::type_name).collect();
        assert_eq!(types, SCHEME_TYPES);
        let original: serde_json::Value = serde_json::from_str(ALL).unwrap();
        let written = serde_json::to_value(&schemes).unwrap();
        assert_eq!(written, original);
    }

    #[test]
    fn unknown_type_lists_the_valid_ones() {
        let err = AuthScheme::from_json(r#"{"type":"oauth2-password","x":1}"#).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("oauth2-password"), "{msg}");
        for t in SCHEME_TYPES {
            assert!(msg.contains(t), "{msg}");
        }
        let err = AuthScheme::list_from_json(r#"[{"type":"bogus"}]"#).unwrap_err();
        assert!(matches!(err, SchemeError::UnknownType { .. }), "{err}");
    }

    #[test]
    fn a_missing_field_or_bad_syntax_is_named() {
        let err = AuthScheme::from_json("{\n \"type\": \"api-token\"\n}").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("missing field `token`"), "{msg}");
        let err = AuthScheme::from_json("{\n \"type\": \"api-token\",\n}").unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn debug_hides_secrets() {
        let schemes = AuthScheme::list_from_json(ALL).unwrap();
        let shown = format!("{schemes:?}");
        for secret in ["district", "d2p_abc", "k1", "q1", "\"s\""] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    #[tokio::test]
    async fn static_variants_become_authenticators() {
        let schemes = AuthScheme::list_from_json(ALL).unwrap();
        let mut headers = HeaderMap::new();
        let mut url = Url::parse("https://api.example/x").unwrap();
        schemes[1]
            .authenticator()
            .await
            .unwrap()
            .apply(&mut headers, &mut url)
            .await
            .unwrap();
        assert_eq!(headers["authorization"], "ApiToken d2p_abc");
        schemes[3]
            .authenticator()
            .await
            .unwrap()
            .apply(&mut headers, &mut url)
            .await
            .unwrap();
        assert_eq!(url.query(), Some("api_key=q1"));
        // The OAuth 2 variant builds a manager without contacting the IdP.
        let selected = Selected::new("route", schemes[4].to_profile());
        assert!(selected.static_auth(&credentials::no_env).await.is_err());
        assert!(schemes[4].authenticator().await.is_ok());
    }

    #[test]
    fn a_wrongly_typed_secret_is_not_quoted_in_the_error() {
        let err = AuthScheme::from_json(
            r#"{"type":"http-basic","username":"admin","password":987654321}"#,
        )
        .map(|_| ())
        .unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("987654321"), "{shown}");
        assert!(
            shown.contains("invalid type: integer, expected a string"),
            "{shown}"
        );
    }
}
