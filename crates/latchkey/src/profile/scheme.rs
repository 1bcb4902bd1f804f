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
use crate::error::Error;
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
/// Every field is optional as DHIS2 sends it: DHIS2 encrypts route secrets at rest and
/// leaves them out of the routes it returns, so a route read back parses, and only using it
/// ([`AuthScheme::authenticator`]) fails, naming the field it lacks. Fields latchkey does
/// not know are kept in `extra` and written back unchanged.
///
/// `Debug` never shows a secret (nor the values of unknown fields); [`Serialize`] writes
/// them (it produces the wire format), so only serialize into places as protected as the
/// source.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum AuthScheme {
    /// `http-basic`: `Authorization: Basic …`.
    #[serde(rename = "http-basic")]
    HttpBasic {
        /// The user name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        /// The password.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            serialize_with = "expose"
        )]
        password: Option<SecretString>,
        /// Fields latchkey does not know, kept as they came.
        #[serde(flatten)]
        extra: UnknownFields,
    },
    /// `api-token`: `Authorization: ApiToken …` (DHIS2 personal access tokens).
    #[serde(rename = "api-token")]
    ApiToken {
        /// The token.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            serialize_with = "expose"
        )]
        token: Option<SecretString>,
        /// Fields latchkey does not know, kept as they came.
        #[serde(flatten)]
        extra: UnknownFields,
    },
    /// `api-headers`: fixed headers, e.g. `X-API-Key`.
    #[serde(rename = "api-headers")]
    ApiHeaders {
        /// Header name → value.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            serialize_with = "expose_map"
        )]
        headers: Option<BTreeMap<String, SecretString>>,
        /// Fields latchkey does not know, kept as they came.
        #[serde(flatten)]
        extra: UnknownFields,
    },
    /// `api-query-params`: fixed query parameters, e.g. `?api_key=…`.
    #[serde(rename = "api-query-params")]
    ApiQueryParams {
        /// Parameter name → value.
        #[serde(
            rename = "queryParams",
            default,
            skip_serializing_if = "Option::is_none",
            serialize_with = "expose_map"
        )]
        query_params: Option<BTreeMap<String, SecretString>>,
        /// Fields latchkey does not know, kept as they came.
        #[serde(flatten)]
        extra: UnknownFields,
    },
    /// `oauth2-client-credentials`: a bearer token from the client credentials grant.
    #[serde(rename = "oauth2-client-credentials")]
    OAuth2ClientCredentials {
        /// The client id.
        #[serde(rename = "clientId", default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// The client secret (sent with HTTP Basic, RFC 6749 §2.3.1).
        #[serde(
            rename = "clientSecret",
            default,
            skip_serializing_if = "Option::is_none",
            serialize_with = "expose"
        )]
        client_secret: Option<SecretString>,
        /// The token endpoint.
        #[serde(rename = "tokenUri", default, skip_serializing_if = "Option::is_none")]
        token_uri: Option<String>,
        /// The scopes, one space-separated string as DHIS2 stores them (RFC 6749 §3.3).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scopes: Option<String>,
        /// Fields latchkey does not know, kept as they came.
        #[serde(flatten)]
        extra: UnknownFields,
    },
}

/// The fields of a JSON object latchkey does not know, kept in order to be written back
/// unchanged. `Debug` shows their names only: their values may be secrets.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnknownFields(serde_json::Map<String, serde_json::Value>);

impl UnknownFields {
    /// The value of the unknown field `name`.
    pub fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.0.get(name)
    }

    /// The names of the unknown fields.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for UnknownFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
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
        values.into_iter().map(Self::from_value).collect()
    }

    /// Parses one scheme from an already parsed JSON value.
    pub(super) fn from_value(value: serde_json::Value) -> Result<Self, SchemeError> {
        // The value has no positions left; check the type first for the useful message.
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

    /// The first field this scheme needs and lacks, by its wire name (DHIS2 leaves the
    /// secrets out of the routes it returns).
    pub fn missing_field(&self) -> Option<&'static str> {
        let empty = |map: &Option<BTreeMap<String, SecretString>>| {
            map.as_ref().is_none_or(BTreeMap::is_empty)
        };
        match self {
            AuthScheme::HttpBasic { username: None, .. } => Some("username"),
            AuthScheme::HttpBasic { password: None, .. } => Some("password"),
            AuthScheme::ApiToken { token: None, .. } => Some("token"),
            AuthScheme::ApiHeaders { headers, .. } if empty(headers) => Some("headers"),
            AuthScheme::ApiQueryParams { query_params, .. } if empty(query_params) => {
                Some("queryParams")
            }
            AuthScheme::OAuth2ClientCredentials {
                client_id: None, ..
            } => Some("clientId"),
            AuthScheme::OAuth2ClientCredentials {
                client_secret: None,
                ..
            } => Some("clientSecret"),
            AuthScheme::OAuth2ClientCredentials {
                token_uri: None, ..
            } => Some("tokenUri"),
            _ => None,
        }
    }

    /// The profile this scheme describes: the same kinds, fields and defaults a profile
    /// file would give, so a route and a profile of the same kind build the same client.
    /// The secrets are handed over as values; OAuth 2 tokens are kept in memory. A field
    /// the scheme lacks stays unset (see [`AuthScheme::missing_field`]).
    pub fn to_profile(&self) -> Profile {
        let value = |secret: &SecretString| SecretRef::Value(secret.clone());
        let values = |map: &Option<BTreeMap<String, SecretString>>| {
            map.iter()
                .flatten()
                .map(|(k, v)| (k.clone(), value(v)))
                .collect()
        };
        match self {
            AuthScheme::HttpBasic {
                username, password, ..
            } => {
                let mut p = Profile::new(AuthKind::Basic);
                p.username = username.clone();
                p.password = password.as_ref().map(value);
                p
            }
            AuthScheme::ApiToken { token, .. } => {
                let mut p = Profile::new(AuthKind::ApiToken);
                p.token = token.as_ref().map(value);
                p
            }
            AuthScheme::ApiHeaders { headers, .. } => {
                let mut p = Profile::new(AuthKind::Headers);
                p.headers = values(headers);
                p
            }
            AuthScheme::ApiQueryParams { query_params, .. } => {
                let mut p = Profile::new(AuthKind::Query);
                p.query = values(query_params);
                p
            }
            AuthScheme::OAuth2ClientCredentials {
                client_id,
                client_secret,
                token_uri,
                scopes,
                ..
            } => {
                let mut p = Profile::new(AuthKind::ClientCredentials);
                p.client_id = client_id.clone();
                p.client_secret = client_secret.as_ref().map(value);
                // DHIS2 sends route secrets with HTTP Basic (RFC 6749 §2.3.1).
                p.client_auth = Some(ClientAuthMethod::ClientSecretBasic);
                p.token_url = token_uri.clone();
                p.scopes = scopes
                    .iter()
                    .flat_map(|s| s.split_whitespace())
                    .map(str::to_owned)
                    .collect();
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
        if let Some(field) = self.missing_field() {
            return Err(Error::Config(format!(
                "auth scheme `{}` has no `{field}` (DHIS2 leaves secrets out of the routes it \
                 returns): set it before using the scheme",
                self.type_name()
            ))
            .into());
        }
        let selected = Selected::new(key, self.to_profile());
        let auth: ProfileAuth = selected
            .authenticate_with_store(store, &credentials::no_env, &LoginOptions::default())
            .await?;
        Ok(auth.authenticator())
    }
}

pub(super) fn classify(json: &str, err: &serde_json::Error) -> SchemeError {
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

// `serialize_with` on an `Option` field gets the `Option`; `None` is skipped before this.
fn expose<S: Serializer>(secret: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => s.serialize_str(secret.expose_secret()),
        None => s.serialize_none(),
    }
}

fn expose_map<S: Serializer>(
    map: &Option<BTreeMap<String, SecretString>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match map {
        Some(map) => s.collect_map(map.iter().map(|(k, v)| (k, v.expose_secret()))),
        None => s.serialize_none(),
    }
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

    #[tokio::test]
    async fn a_missing_field_parses_and_fails_when_used_naming_it() {
        let cases = [
            (r#"{"type":"api-token"}"#, "token"),
            (r#"{"type":"http-basic","username":"admin"}"#, "password"),
            (r#"{"type":"http-basic","password":"p"}"#, "username"),
            (r#"{"type":"api-headers","headers":{}}"#, "headers"),
            (r#"{"type":"api-query-params"}"#, "queryParams"),
            (
                r#"{"type":"oauth2-client-credentials","clientId":"c","tokenUri":"https://idp.example/t"}"#,
                "clientSecret",
            ),
            (
                r#"{"type":"oauth2-client-credentials","clientId":"c","clientSecret":"s"}"#,
                "tokenUri",
            ),
        ];
        for (json, field) in cases {
            let scheme = AuthScheme::from_json(json).unwrap();
            assert_eq!(scheme.missing_field(), Some(field), "{json}");
            let err = scheme.authenticator().await.map(|_| ()).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("`{field}`")) && msg.contains(scheme.type_name()),
                "{msg}"
            );
            // Written back, it is what came.
            let written = serde_json::to_value(&scheme).unwrap();
            assert_eq!(
                written,
                serde_json::from_str::<serde_json::Value>(json).unwrap()
            );
        }
    }

    #[test]
    fn bad_syntax_is_named_by_position() {
        let err = AuthScheme::from_json("{\n \"type\": \"api-token\",\n}").unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        let err = AuthScheme::from_json(r#"{"type":"api-token","token":["t"]}"#).unwrap_err();
        assert!(matches!(err, SchemeError::Invalid { .. }), "{err}");
    }

    #[test]
    fn unknown_fields_are_kept_written_back_and_not_shown() {
        let json = r#"{"type":"oauth2-client-credentials","clientId":"c","clientSecret":"s",
            "tokenUri":"https://idp.example/token","scopes":"ALL","audience":"api-42",
            "extraParams":{"resource":"urn:x","n":1.10}}"#;
        let scheme = AuthScheme::from_json(json).unwrap();
        let AuthScheme::OAuth2ClientCredentials { extra, .. } = &scheme else {
            panic!("{scheme:?}");
        };
        assert_eq!(
            extra.names().collect::<Vec<_>>(),
            ["audience", "extraParams"]
        );
        let written = serde_json::to_value(&scheme).unwrap();
        assert_eq!(
            written,
            serde_json::from_str::<serde_json::Value>(json).unwrap()
        );
        let shown = format!("{scheme:?}");
        assert!(
            shown.contains("audience") && !shown.contains("api-42"),
            "{shown}"
        );
        assert!(!shown.contains("urn:x"), "{shown}");
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
