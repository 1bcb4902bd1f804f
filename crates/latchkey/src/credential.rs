//! Static credentials: the ones that never expire or refresh.

use async_trait::async_trait;
use base64::Engine as _;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::authenticator::Authenticator;
use crate::error::{Error, Result};

/// Credentials that are sent as they are.
///
/// `Debug` never shows a secret value.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StaticAuth {
    /// `Authorization: Basic base64(username:password)` (RFC 7617).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: SecretString,
    },
    /// `Authorization: ApiToken <token>`: DHIS2 personal access tokens.
    ApiToken(SecretString),
    /// `Authorization: Bearer <token>`.
    Bearer(SecretString),
    /// Arbitrary headers, e.g. `X-API-Key`.
    Headers(Vec<(HeaderName, SecretString)>),
    /// Query parameters, e.g. `?api_key=…`.
    QueryParams(Vec<(String, SecretString)>),
}

impl StaticAuth {
    /// HTTP Basic credentials.
    pub fn basic(username: impl Into<String>, password: SecretString) -> Self {
        StaticAuth::Basic {
            username: username.into(),
            password,
        }
    }

    /// Custom headers; fails naming the first header name that is not valid.
    pub fn headers<I, K>(headers: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, SecretString)>,
        K: AsRef<str>,
    {
        let headers = headers
            .into_iter()
            .map(|(name, value)| {
                let name = name.as_ref();
                let parsed = HeaderName::try_from(name).map_err(|_| {
                    Error::Config(format!("`{name}` is not a valid HTTP header name"))
                })?;
                header_value(value.expose_secret(), name)?;
                Ok((parsed, value))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(StaticAuth::Headers(headers))
    }

    /// Custom query parameters.
    pub fn query_params<I, K>(params: I) -> Self
    where
        I: IntoIterator<Item = (K, SecretString)>,
        K: Into<String>,
    {
        StaticAuth::QueryParams(params.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The headers this credential adds (none for query parameters).
    pub fn header_values(&self) -> Result<Vec<(HeaderName, HeaderValue)>> {
        Ok(match self {
            StaticAuth::Basic { username, password } => {
                let raw = format!("{username}:{}", password.expose_secret());
                let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
                vec![(
                    AUTHORIZATION,
                    header_value(&format!("Basic {encoded}"), "authorization")?,
                )]
            }
            StaticAuth::ApiToken(token) => vec![(
                AUTHORIZATION,
                header_value(
                    &format!("ApiToken {}", token.expose_secret()),
                    "authorization",
                )?,
            )],
            StaticAuth::Bearer(token) => vec![(
                AUTHORIZATION,
                header_value(
                    &format!("Bearer {}", token.expose_secret()),
                    "authorization",
                )?,
            )],
            StaticAuth::Headers(headers) => headers
                .iter()
                .map(|(name, value)| {
                    Ok((
                        name.clone(),
                        header_value(value.expose_secret(), name.as_str())?,
                    ))
                })
                .collect::<Result<_>>()?,
            StaticAuth::QueryParams(_) => Vec::new(),
        })
    }
}

fn header_value(value: &str, name: &str) -> Result<HeaderValue> {
    let mut value = HeaderValue::try_from(value).map_err(|_| {
        Error::Config(format!(
            "the value for header `{name}` contains characters not allowed in HTTP headers"
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

#[async_trait]
impl Authenticator for StaticAuth {
    async fn apply(&self, headers: &mut HeaderMap, url: &mut Url) -> Result<()> {
        for (name, value) in self.header_values()? {
            headers.insert(name, value);
        }
        if let StaticAuth::QueryParams(params) = self {
            // Replace, not append: a retried request must not carry the parameter twice.
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| !params.iter().any(|(name, _)| name == k))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let mut pairs = url.query_pairs_mut();
            pairs.clear();
            for (k, v) in &kept {
                pairs.append_pair(k, v);
            }
            for (name, value) in params {
                pairs.append_pair(name, value.expose_secret());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn applied(auth: &StaticAuth, url: &str) -> (HeaderMap, Url) {
        let mut headers = HeaderMap::new();
        let mut url = Url::parse(url).unwrap();
        auth.apply(&mut headers, &mut url).await.unwrap();
        (headers, url)
    }

    #[tokio::test]
    async fn each_kind_sets_the_right_wire_format() {
        let (h, _) = applied(
            &StaticAuth::basic("admin", "district".to_string().into()),
            "https://x/",
        )
        .await;
        assert_eq!(h[AUTHORIZATION], "Basic YWRtaW46ZGlzdHJpY3Q=");
        assert!(h[AUTHORIZATION].is_sensitive());
        let (h, _) = applied(
            &StaticAuth::ApiToken("d2pat_abc".to_string().into()),
            "https://x/",
        )
        .await;
        assert_eq!(h[AUTHORIZATION], "ApiToken d2pat_abc");
        let (h, _) = applied(&StaticAuth::Bearer("t".to_string().into()), "https://x/").await;
        assert_eq!(h[AUTHORIZATION], "Bearer t");
        let custom = StaticAuth::headers([("X-API-Key", SecretString::from("k1"))]).unwrap();
        let (h, _) = applied(&custom, "https://x/").await;
        assert_eq!(h["x-api-key"], "k1");
        let query = StaticAuth::query_params([("api_key", SecretString::from("a b&c"))]);
        let (h, u) = applied(&query, "https://x/data?page=2&api_key=old").await;
        assert!(h.is_empty());
        assert_eq!(u.query(), Some("page=2&api_key=a+b%26c"));
    }

    #[test]
    fn bad_header_names_are_named() {
        let err = StaticAuth::headers([("bad header", SecretString::from("v"))]).unwrap_err();
        assert!(err.to_string().contains("bad header"), "{err}");
    }

    #[test]
    fn debug_hides_every_secret() {
        let kinds = [
            StaticAuth::basic("u", "pw-sekrit".to_string().into()),
            StaticAuth::ApiToken("pat-sekrit".to_string().into()),
            StaticAuth::Bearer("bearer-sekrit".to_string().into()),
            StaticAuth::headers([("X-Key", SecretString::from("hdr-sekrit"))]).unwrap(),
            StaticAuth::query_params([("k", SecretString::from("q-sekrit"))]),
        ];
        for kind in kinds {
            let shown = format!("{kind:?}");
            assert!(!shown.contains("sekrit"), "{shown}");
        }
    }
}
