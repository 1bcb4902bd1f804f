//! The tokens an identity provider hands out, with absolute expiry times.

use std::fmt;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::dpop::DpopKey;

/// A set of OAuth tokens together with their absolute expiry times.
///
/// Expiry is stored as instants, not as the `expires_in` the provider sent, so a token set
/// loaded from disk an hour later still knows when it expires. A missing `expires_in` means
/// the expiry is unknown (`expires_at() == None`), never a guess.
#[derive(Clone)]
pub struct TokenSet {
    pub(crate) access_token: SecretString,
    pub(crate) token_type: String,
    pub(crate) refresh_token: Option<SecretString>,
    pub(crate) id_token: Option<SecretString>,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires_at: Option<SystemTime>,
    pub(crate) refresh_expires_at: Option<SystemTime>,
    pub(crate) obtained_at: SystemTime,
    pub(crate) extra: serde_json::Map<String, serde_json::Value>,
    pub(crate) dpop_key: Option<DpopKey>,
}

impl TokenSet {
    /// A bearer token set with only an access token, obtained at `obtained_at`.
    pub fn new(access_token: SecretString, obtained_at: SystemTime) -> Self {
        Self {
            access_token,
            token_type: "Bearer".into(),
            refresh_token: None,
            id_token: None,
            scopes: Vec::new(),
            expires_at: None,
            refresh_expires_at: None,
            obtained_at,
            extra: serde_json::Map::new(),
            dpop_key: None,
        }
    }

    /// Sets when the access token expires.
    pub fn with_expires_at(mut self, at: Option<SystemTime>) -> Self {
        self.expires_at = at;
        self
    }

    /// Sets the refresh token.
    pub fn with_refresh_token(mut self, token: Option<SecretString>) -> Self {
        self.refresh_token = token;
        self
    }

    /// Sets when the refresh token expires.
    pub fn with_refresh_expires_at(mut self, at: Option<SystemTime>) -> Self {
        self.refresh_expires_at = at;
        self
    }

    /// Sets the ID token.
    pub fn with_id_token(mut self, token: Option<SecretString>) -> Self {
        self.id_token = token;
        self
    }

    /// Sets the granted scopes.
    pub fn with_scopes(mut self, scopes: Vec<String>) -> Self {
        self.scopes = scopes;
        self
    }

    /// Sets the token type (`Bearer`, `DPoP`, …).
    pub fn with_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.token_type = token_type.into();
        self
    }

    /// Sets the DPoP key the tokens are bound to.
    pub fn with_dpop_key(mut self, key: Option<DpopKey>) -> Self {
        self.dpop_key = key;
        self
    }

    /// The DPoP key (RFC 9449) these tokens were obtained with: stored with them, so a
    /// DPoP-bound token keeps working in another process. `None` without DPoP.
    pub fn dpop_key(&self) -> Option<&DpopKey> {
        self.dpop_key.as_ref()
    }

    /// Whether the access token is DPoP-bound (`token_type` `DPoP`): each request then
    /// needs its own proof next to the `Authorization: DPoP …` header.
    pub fn is_dpop(&self) -> bool {
        self.token_type.eq_ignore_ascii_case("dpop")
    }

    /// The access token.
    pub fn access_token(&self) -> &SecretString {
        &self.access_token
    }

    /// The token type, normalised so `bearer` reads `Bearer`.
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// The refresh token, when the provider issued one.
    pub fn refresh_token(&self) -> Option<&SecretString> {
        self.refresh_token.as_ref()
    }

    /// The OpenID Connect ID token, when the provider issued one.
    pub fn id_token(&self) -> Option<&SecretString> {
        self.id_token.as_ref()
    }

    /// The granted scopes (empty when the provider did not say).
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// When the access token expires; `None` when the provider did not say.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// When the refresh token expires; `None` when unknown or unlimited.
    pub fn refresh_expires_at(&self) -> Option<SystemTime> {
        self.refresh_expires_at
    }

    /// When the tokens were obtained.
    pub fn obtained_at(&self) -> SystemTime {
        self.obtained_at
    }

    /// Response fields latchkey does not interpret (e.g. `session_state`).
    pub fn extra(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.extra
    }

    /// Whether the access token is usable at `now`, treating it as expired `skew` early.
    /// A token of unknown expiry is valid until the server rejects it. CDSE's
    /// `access_valid(skew)` is `access_valid(SystemTime::now(), skew)`.
    pub fn access_valid(&self, now: SystemTime, skew: Duration) -> bool {
        !self.access_token.expose_secret().is_empty()
            && self.expires_at.is_none_or(|at| now + skew < at)
    }

    /// When to refresh: `margin` before expiry, but never before half the token's lifetime
    /// (a 5-second token with a 60-second margin would otherwise refresh on every call).
    /// `None` when the expiry is unknown. This is [`TokenManager`](crate::TokenManager)'s rule.
    pub fn refresh_at(&self, margin: Duration) -> Option<SystemTime> {
        let expires_at = self.expires_at?;
        let lifetime = expires_at
            .duration_since(self.obtained_at)
            .unwrap_or_default();
        let margin = margin.min(lifetime / 2);
        Some(expires_at.checked_sub(margin).unwrap_or(expires_at))
    }

    /// Whether the token can be handed out at `now` without refreshing, by the rule of
    /// [`refresh_at`](Self::refresh_at).
    pub fn is_fresh(&self, now: SystemTime, margin: Duration) -> bool {
        self.access_valid(now, Duration::ZERO) && self.refresh_at(margin).is_none_or(|at| now < at)
    }

    /// Whether a refresh token grant can still succeed at `now`, treating the refresh token
    /// as expired `skew` early. CDSE's `refresh_valid(skew)` is
    /// `refresh_valid(SystemTime::now(), skew)`.
    pub fn refresh_valid(&self, now: SystemTime, skew: Duration) -> bool {
        self.refresh_token
            .as_ref()
            .is_some_and(|t| !t.expose_secret().is_empty())
            && self.refresh_expires_at.is_none_or(|at| now + skew < at)
    }

    /// The `Authorization` header value, marked sensitive so HTTP stacks never log it. Its
    /// bytes are wiped when the last copy of the value is dropped.
    pub fn authorization_header(&self) -> Result<HeaderValue, InvalidTokenHeader> {
        secret_header(self.header_bytes()).ok_or(InvalidTokenHeader)
    }

    /// `<token_type> <access_token>`, in a buffer wiped when dropped.
    pub(crate) fn header_bytes(&self) -> Zeroizing<Vec<u8>> {
        let token = self.access_token.expose_secret();
        let mut text = Zeroizing::new(Vec::with_capacity(self.token_type.len() + 1 + token.len()));
        text.extend_from_slice(self.token_type.as_bytes());
        text.push(b' ');
        text.extend_from_slice(token.as_bytes());
        text
    }

    /// Whether both sets carry the same access token (compared without exposing it).
    pub fn same_access_token(&self, other: &TokenSet) -> bool {
        self.access_token.expose_secret() == other.access_token.expose_secret()
    }

    /// Whether both sets carry the same refresh token (both absent counts as the same).
    pub fn same_refresh_token(&self, other: &TokenSet) -> bool {
        match (&self.refresh_token, &other.refresh_token) {
            (Some(a), Some(b)) => a.expose_secret() == b.expose_secret(),
            (None, None) => true,
            _ => false,
        }
    }

    /// The result of a refresh, completed from the set it replaces: RFC 6749 §6 lets the
    /// provider omit the refresh token (keep the old one) and the scope (unchanged).
    pub(crate) fn succeeding(mut self, previous: &TokenSet) -> TokenSet {
        if self.refresh_token.is_none() {
            self.refresh_token = previous.refresh_token.clone();
            if self.refresh_expires_at.is_none() {
                self.refresh_expires_at = previous.refresh_expires_at;
            }
        }
        if self.scopes.is_empty() {
            self.scopes = previous.scopes.clone();
        }
        if self.id_token.is_none() {
            self.id_token = previous.id_token.clone();
        }
        if self.dpop_key.is_none() {
            self.dpop_key = previous.dpop_key.clone();
        }
        self
    }
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values of unknown fields may be secrets too: show only their names.
        let extra: Vec<&String> = self.extra.keys().collect();
        f.debug_struct("TokenSet")
            .field("access_token", &"[REDACTED]")
            .field("token_type", &self.token_type)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("id_token", &self.id_token.as_ref().map(|_| "[REDACTED]"))
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("obtained_at", &self.obtained_at)
            .field("extra_fields", &extra)
            .field("dpop_key", &self.dpop_key.as_ref().map(|k| k.algorithm()))
            .finish()
    }
}

/// The access token cannot be sent: it holds bytes an HTTP header may not carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the access token contains characters not allowed in an HTTP header")]
pub struct InvalidTokenHeader;

/// A sensitive header value that owns `bytes` (`None` if they are not a valid header value).
/// `HeaderValue` itself never zeroizes, so secret headers are built here from an owner that
/// wipes its bytes when the last clone of the value is dropped.
pub(crate) fn secret_header<O>(owner: O) -> Option<HeaderValue>
where
    O: AsRef<[u8]> + Send + 'static,
{
    let mut value = HeaderValue::from_maybe_shared(Bytes::from_owner(owner)).ok()?;
    value.set_sensitive(true);
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lived(lifetime: u64) -> TokenSet {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        TokenSet::new("a".to_string().into(), t0)
            .with_expires_at(Some(t0 + Duration::from_secs(lifetime)))
    }

    #[test]
    fn margin_is_capped_at_half_the_lifetime() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(
            lived(3600).refresh_at(Duration::from_secs(60)),
            Some(t0 + Duration::from_secs(3540))
        );
        assert_eq!(
            lived(6).refresh_at(Duration::from_secs(60)),
            Some(t0 + Duration::from_secs(3))
        );
        assert!(lived(6).is_fresh(t0 + Duration::from_secs(2), Duration::from_secs(60)));
        assert!(!lived(6).is_fresh(t0 + Duration::from_secs(3), Duration::from_secs(60)));
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn validity_honours_skew() {
        let tokens = TokenSet::new("a".to_string().into(), at(0)).with_expires_at(Some(at(100)));
        assert!(tokens.access_valid(at(39), Duration::from_secs(60)));
        assert!(!tokens.access_valid(at(40), Duration::from_secs(60)));
        assert!(!tokens.access_valid(at(100), Duration::ZERO));
        let refreshable = tokens
            .with_refresh_token(Some("r".to_string().into()))
            .with_refresh_expires_at(Some(at(1000)));
        assert!(refreshable.refresh_valid(at(939), Duration::from_secs(60)));
        assert!(!refreshable.refresh_valid(at(940), Duration::from_secs(60)));
        let without = TokenSet::new("a".to_string().into(), at(0));
        assert!(!without.refresh_valid(at(0), Duration::ZERO));
    }

    #[test]
    fn unknown_expiry_is_valid_and_empty_token_is_not() {
        let tokens = TokenSet::new("a".to_string().into(), at(0));
        assert!(tokens.access_valid(at(1_000_000), Duration::from_secs(60)));
        let empty = TokenSet::new(String::new().into(), at(0));
        assert!(!empty.access_valid(at(0), Duration::ZERO));
    }

    #[test]
    fn refresh_keeps_old_refresh_token_when_omitted() {
        let old = TokenSet::new("a".to_string().into(), at(0))
            .with_refresh_token(Some("r1".to_string().into()))
            .with_scopes(vec!["x".into()]);
        let new = TokenSet::new("b".to_string().into(), at(1)).succeeding(&old);
        assert!(new.same_refresh_token(&old));
        assert_eq!(new.scopes(), ["x"]);
    }

    #[test]
    fn debug_shows_no_secret() {
        let tokens = TokenSet::new("sekrit-access".to_string().into(), at(0))
            .with_refresh_token(Some("sekrit-refresh".to_string().into()))
            .with_id_token(Some("sekrit-id".to_string().into()));
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("sekrit"), "{shown}");
    }

    #[test]
    fn header_is_sensitive() {
        let tokens = TokenSet::new("abc".to_string().into(), at(0));
        let header = tokens.authorization_header().unwrap();
        assert!(header.is_sensitive());
        assert_eq!(header.to_str().unwrap(), "Bearer abc");
    }
}
