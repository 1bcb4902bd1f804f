//! [`OidcProvider`]: discovered metadata, its JWKS and the calls that use them.

use std::sync::Arc;

use secrecy::SecretString;

use super::discovery::{DiscoveryCache, DiscoveryOptions, ProviderMetadata};
use super::end_session::EndSessionUrl;
use super::error::OidcError;
use super::id_token::{IdTokenValidator, IdTokenValidatorBuilder, algorithms_from_metadata};
use super::introspection::{Introspection, introspect};
use super::jwks::JwksCache;
use super::userinfo::{UserInfo, fetch_userinfo};
use crate::client::{OAuthClient, OAuthClientBuilder};
use crate::error::Result;

/// One OpenID provider: its metadata, a shared [`JwksCache`] and an HTTP client.
/// Cheap to clone, `Send + Sync`.
#[derive(Debug, Clone)]
pub struct OidcProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    metadata: Arc<ProviderMetadata>,
    jwks: Option<JwksCache>,
    http: reqwest::Client,
}

impl OidcProvider {
    /// Discovers `issuer` (through the process-wide [`DiscoveryCache`]).
    pub async fn discover(issuer: &str) -> Result<Self> {
        Self::discover_with(issuer, &DiscoveryOptions::default()).await
    }

    /// Discovers `issuer` with `options` (through the process-wide [`DiscoveryCache`]).
    pub async fn discover_with(issuer: &str, options: &DiscoveryOptions) -> Result<Self> {
        let metadata = DiscoveryCache::global().get(issuer, options).await?;
        Self::from_metadata(metadata, options.http.clone())
    }

    /// A provider from known metadata; the JWKS cache gets default settings.
    pub fn from_metadata(
        metadata: Arc<ProviderMetadata>,
        http: Option<reqwest::Client>,
    ) -> Result<Self> {
        let http = match http {
            Some(http) => http,
            None => crate::http::http_client()?,
        };
        let jwks = metadata
            .jwks_uri
            .clone()
            .map(|uri| JwksCache::builder(uri).http_client(http.clone()).build())
            .transpose()?;
        Ok(Self::from_parts(metadata, jwks, http))
    }

    /// A provider from metadata and a JWKS cache built by the caller (own TTLs, cooldown, clock).
    pub fn from_parts(
        metadata: Arc<ProviderMetadata>,
        jwks: Option<JwksCache>,
        http: reqwest::Client,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                metadata,
                jwks,
                http,
            }),
        }
    }

    /// The metadata.
    pub fn metadata(&self) -> &ProviderMetadata {
        &self.inner.metadata
    }

    /// The JWKS cache, when the provider has a `jwks_uri`.
    pub fn jwks(&self) -> Option<&JwksCache> {
        self.inner.jwks.as_ref()
    }

    /// An [`OAuthClientBuilder`] with the token and revocation endpoints filled in.
    pub fn client_builder(&self, client_id: impl Into<String>) -> OAuthClientBuilder {
        self.inner
            .metadata
            .client_builder(client_id)
            .http_client(self.inner.http.clone())
    }

    /// A validator builder for ID tokens issued to `client_id`, allowing the provider's
    /// `id_token_signing_alg_values_supported` (minus `none` and HMAC; RS256 by default).
    pub fn id_token_validator(
        &self,
        client_id: impl Into<String>,
    ) -> Result<IdTokenValidatorBuilder> {
        let metadata = &self.inner.metadata;
        let jwks = self
            .inner
            .jwks
            .clone()
            .ok_or_else(|| OidcError::MissingEndpoint {
                issuer: metadata.issuer.clone(),
                field: "jwks_uri",
            })?;
        Ok(
            IdTokenValidator::builder(metadata.issuer.clone(), client_id, jwks).algorithms(
                algorithms_from_metadata(&metadata.id_token_signing_alg_values_supported),
            ),
        )
    }

    /// The userinfo claims for `access_token`; with `expected_sub` (the ID token's `sub`) a
    /// response about another subject is refused.
    pub async fn userinfo(
        &self,
        access_token: &SecretString,
        expected_sub: Option<&str>,
    ) -> Result<UserInfo> {
        let url = self.endpoint(
            self.inner.metadata.userinfo_endpoint.as_ref(),
            "userinfo_endpoint",
        )?;
        fetch_userinfo(&self.inner.http, url, access_token, expected_sub).await
    }

    /// Introspects `token` (RFC 7662) as `client`; `hint` is `access_token` or `refresh_token`.
    pub async fn introspect(
        &self,
        client: &OAuthClient,
        token: &SecretString,
        hint: Option<&str>,
    ) -> Result<Introspection> {
        let url = self.endpoint(
            self.inner.metadata.introspection_endpoint.as_ref(),
            "introspection_endpoint",
        )?;
        introspect(client, url, token, hint).await
    }

    /// A builder for the end-session URL (RP-Initiated Logout).
    pub fn end_session_url(&self) -> Result<EndSessionUrl> {
        let url = self.endpoint(
            self.inner.metadata.end_session_endpoint.as_ref(),
            "end_session_endpoint",
        )?;
        Ok(EndSessionUrl::new(url.clone()))
    }

    fn endpoint<'a>(&self, url: Option<&'a url::Url>, field: &'static str) -> Result<&'a url::Url> {
        url.ok_or_else(|| {
            OidcError::MissingEndpoint {
                issuer: self.inner.metadata.issuer.clone(),
                field,
            }
            .into()
        })
    }
}
