//! RFC 8705 §5: a provider may serve mutual-TLS clients at other URLs than everyone else
//! (`mtls_endpoint_aliases` in its metadata); a client that presents a certificate uses them.

use url::Url;

use super::discovery::ProviderMetadata;
use crate::error::{Error, Result};

/// The endpoints a provider lists under `mtls_endpoint_aliases` (RFC 8705 §5), checked like
/// every other endpoint (HTTPS unless loopback).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MtlsEndpointAliases {
    /// The token endpoint for mutual-TLS clients.
    pub token_endpoint: Option<Url>,
    /// The revocation endpoint for mutual-TLS clients.
    pub revocation_endpoint: Option<Url>,
    /// The introspection endpoint for mutual-TLS clients.
    pub introspection_endpoint: Option<Url>,
    /// The userinfo endpoint for mutual-TLS clients.
    pub userinfo_endpoint: Option<Url>,
    /// The device authorization endpoint for mutual-TLS clients.
    pub device_authorization_endpoint: Option<Url>,
}

impl MtlsEndpointAliases {
    /// Whether the provider listed none.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl ProviderMetadata {
    /// The provider's `mtls_endpoint_aliases` (RFC 8705 §5); empty when it lists none. An
    /// alias that is not a usable URL is an error naming it.
    pub fn mtls_endpoint_aliases(&self) -> Result<MtlsEndpointAliases> {
        let Some(raw) = self.extra.get("mtls_endpoint_aliases") else {
            return Ok(MtlsEndpointAliases::default());
        };
        let Some(raw) = raw.as_object() else {
            return Err(Error::Config(format!(
                "the metadata of {} has an `mtls_endpoint_aliases` that is not a JSON object",
                self.issuer
            )));
        };
        let alias = |name: &str| -> Result<Option<Url>> {
            match raw.get(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(url)) => {
                    let field = format!("mtls_endpoint_aliases.{name}");
                    crate::http::endpoint(&field, url, false).map(Some)
                }
                Some(_) => Err(Error::Config(format!(
                    "the metadata of {} has an `mtls_endpoint_aliases.{name}` that is not a URL",
                    self.issuer
                ))),
            }
        };
        Ok(MtlsEndpointAliases {
            token_endpoint: alias("token_endpoint")?,
            revocation_endpoint: alias("revocation_endpoint")?,
            introspection_endpoint: alias("introspection_endpoint")?,
            userinfo_endpoint: alias("userinfo_endpoint")?,
            device_authorization_endpoint: alias("device_authorization_endpoint")?,
        })
    }

    /// This metadata as a client with a certificate sees it: each endpoint that has an
    /// `mtls_endpoint_aliases` entry replaced by the alias; the others kept.
    pub fn with_mtls_endpoint_aliases(&self) -> Result<ProviderMetadata> {
        let aliases = self.mtls_endpoint_aliases()?;
        let mut metadata = self.clone();
        if let Some(url) = aliases.token_endpoint {
            metadata.token_endpoint = url;
        }
        let replace = |slot: &mut Option<Url>, alias: Option<Url>| {
            if alias.is_some() {
                *slot = alias;
            }
        };
        replace(
            &mut metadata.revocation_endpoint,
            aliases.revocation_endpoint,
        );
        replace(
            &mut metadata.introspection_endpoint,
            aliases.introspection_endpoint,
        );
        replace(&mut metadata.userinfo_endpoint, aliases.userinfo_endpoint);
        replace(
            &mut metadata.device_authorization_endpoint,
            aliases.device_authorization_endpoint,
        );
        Ok(metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(aliases: serde_json::Value) -> ProviderMetadata {
        let mut m = ProviderMetadata::new(
            "https://idp.example",
            Url::parse("https://idp.example/token").unwrap(),
        );
        m.revocation_endpoint = Some(Url::parse("https://idp.example/revoke").unwrap());
        m.extra.insert("mtls_endpoint_aliases".into(), aliases);
        m
    }

    #[test]
    fn aliases_replace_only_the_endpoints_they_name() {
        let m = metadata(serde_json::json!({"token_endpoint": "https://mtls.idp.example/token"}))
            .with_mtls_endpoint_aliases()
            .unwrap();
        assert_eq!(m.token_endpoint.as_str(), "https://mtls.idp.example/token");
        assert_eq!(
            m.revocation_endpoint.unwrap().as_str(),
            "https://idp.example/revoke"
        );
    }

    #[test]
    fn an_alias_that_is_no_url_is_named() {
        let err = metadata(serde_json::json!({"token_endpoint": "http://idp.example/token"}))
            .mtls_endpoint_aliases()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("mtls_endpoint_aliases.token_endpoint"),
            "{err}"
        );
        assert!(
            metadata(serde_json::json!([]))
                .mtls_endpoint_aliases()
                .is_err()
        );
        let none = ProviderMetadata::new("https://i", Url::parse("https://i/t").unwrap());
        assert!(none.mtls_endpoint_aliases().unwrap().is_empty());
    }
}
