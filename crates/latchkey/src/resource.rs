//! Resource indicators ([RFC 8707](https://www.rfc-editor.org/rfc/rfc8707)): which API a
//! token is for.
//!
//! A grant asks for tokens for its resources: every resource in the authorization request
//! (or device authorization request), so that the one login covers them all, and one
//! resource, the first, in each token request, so that each access token is for one
//! audience. Several providers issue a token for one resource at a time (oidc-provider and
//! MCP servers among them), and a token kept per resource is one a store can keep apart.
//! Tokens for the other resources come from [`crate::TokenManager::for_resource`].

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use url::Url;

use crate::error::{Error, Result};

/// One resource indicator: an absolute URI without a fragment (RFC 8707 §2), e.g.
/// `https://api.example.org` or `urn:example:orders`.
///
/// The URI is kept exactly as written: an authorization server compares it as a string
/// with the audiences it knows, so `https://api.example` must not become
/// `https://api.example/`.
///
/// ```
/// use latchkey::Resource;
///
/// let api = Resource::parse("https://api.example.org")?;
/// assert_eq!(api.as_str(), "https://api.example.org");
/// assert!(Resource::parse("/relative").is_err());
/// assert!(Resource::parse("https://api.example.org/#part").is_err());
/// # Ok::<(), latchkey::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resource(String);

impl Resource {
    /// Checks that `uri` is an absolute URI without a fragment.
    pub fn parse(uri: &str) -> Result<Self> {
        let parsed = Url::parse(uri).map_err(|e| {
            Error::Config(format!(
                "`resource` {uri:?} is not an absolute URI ({e}); write the API's full URI, \
                 e.g. \"https://api.example.org\""
            ))
        })?;
        if parsed.fragment().is_some() {
            return Err(Error::Config(format!(
                "`resource` {uri:?} has a fragment (`#…`), which RFC 8707 §2 forbids; \
                 remove it"
            )));
        }
        Ok(Self(uri.to_owned()))
    }

    /// The URI as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Several resources at once, the first failure reported.
    pub fn parse_all<I, S>(uris: I) -> Result<Vec<Self>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        uris.into_iter().map(|u| Self::parse(u.as_ref())).collect()
    }
}

impl FromStr for Resource {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `resource` parameters of a request that names every resource (an authorization or
/// device authorization request).
pub(crate) fn all_params(resources: &[Resource]) -> impl Iterator<Item = (&'static str, &str)> {
    resources.iter().map(|r| ("resource", r.as_str()))
}

/// The `resource` parameter of a token request: the first resource, when there is one.
pub(crate) fn token_param(resources: &[Resource]) -> Option<(&'static str, &str)> {
    resources.first().map(|r| ("resource", r.as_str()))
}

/// The store key for tokens of `resource` kept next to those under `base`: `base`, cut so
/// the result fits, then `-r` and 12 hex digits of a SHA-256 of the resource. The hash keeps
/// two resources apart whatever their spelling; the key stays valid for every store.
pub(crate) fn resource_store_key(base: &str, resource: &Resource) -> String {
    const HASH_DIGITS: usize = 12;
    const MARK: &str = "-r";
    let digest = Sha256::digest(resource.as_str().as_bytes());
    let hash: String = digest[..HASH_DIGITS / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let room = crate::store::MAX_KEY_LEN - MARK.len() - HASH_DIGITS;
    // Keys are ASCII (validated), so cutting at a byte is cutting at a character.
    let base = &base[..base.len().min(room)];
    format!("{base}{MARK}{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_uris_without_fragment_are_kept_as_written() {
        for ok in [
            "https://api.example",
            "https://api.example/v1?x=1",
            "urn:example:orders",
        ] {
            assert_eq!(Resource::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "api.example",
            "/v1",
            "https://api.example/#x",
            "https://a b",
        ] {
            let err = Resource::parse(bad).unwrap_err().to_string();
            assert!(err.contains("`resource`"), "{bad}: {err}");
        }
        assert!(
            Resource::parse("https://a/#f")
                .unwrap_err()
                .to_string()
                .contains("fragment")
        );
    }

    #[test]
    fn store_keys_per_resource_are_valid_distinct_and_bounded() {
        let a = Resource::parse("https://a.example").unwrap();
        let b = Resource::parse("https://b.example").unwrap();
        let ka = resource_store_key("work", &a);
        let kb = resource_store_key("work", &b);
        assert!(ka.starts_with("work-r"), "{ka}");
        assert_ne!(ka, kb);
        crate::store::validate_key(&ka).unwrap();
        let long = resource_store_key(&"x".repeat(128), &a);
        assert_eq!(long.len(), crate::store::MAX_KEY_LEN);
        crate::store::validate_key(&long).unwrap();
    }

    #[test]
    fn token_requests_name_one_resource_authorization_requests_all() {
        let both = Resource::parse_all(["https://a", "https://b"]).unwrap();
        assert_eq!(token_param(&both), Some(("resource", "https://a")));
        assert_eq!(all_params(&both).count(), 2);
        assert_eq!(token_param(&[]), None);
    }
}
