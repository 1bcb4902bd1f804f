//! A cache of the provider's signing keys (RFC 7517 JWK Set, OIDC Core §10.1.1).
//!
//! Providers rotate keys: a token signed with a `kid` we have not seen triggers a refetch, but
//! at most one per cooldown, so a flood of forged `kid`s cannot turn us into a JWKS
//! hammer. Fetches are single-flight, keys expire with the server's `Cache-Control: max-age`
//! (bounded), and when the provider is unreachable the stale keys keep being used.

use crate::redact::{UNTRUSTED_SHOWN_CHARS, untrusted};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use url::Url;

use super::error::{IdTokenError, OidcError};
use super::fetch;
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::redact::DisplayUrl;

/// One verification key from the JWKS.
pub(crate) struct Key {
    pub(crate) kid: Option<String>,
    alg: Option<Algorithm>,
    family: AlgorithmFamily,
    curve: Option<EllipticCurve>,
    pub(crate) decoding: DecodingKey,
}

impl Key {
    /// Whether this key may verify `alg` (RFC 7518 §3.1, RFC 8725 §3.1: the algorithm must
    /// belong to the key, never the other way round). HMAC never qualifies: the JWKS is
    /// public, so "verifying" HS256 with its bytes is the classic key-confusion forgery.
    pub(crate) fn check(&self, alg: Algorithm) -> Result<(), IdTokenError> {
        let mismatch = |reason: &str| IdTokenError::KeyMismatch {
            alg: format!("{alg:?}"),
            reason: reason.into(),
        };
        if alg.family() == AlgorithmFamily::Hmac {
            return Err(mismatch(
                "HMAC algorithms are never verified with a provider's public key",
            ));
        }
        if alg.family() != self.family {
            return Err(mismatch("the key is of another type"));
        }
        if self.alg.is_some_and(|a| a != alg) {
            return Err(mismatch("the key is published for another algorithm"));
        }
        let curve_ok = match (alg, &self.curve) {
            (Algorithm::ES256, Some(c)) => *c == EllipticCurve::P256,
            (Algorithm::ES384, Some(c)) => *c == EllipticCurve::P384,
            _ => true,
        };
        if !curve_ok {
            return Err(mismatch("the key's curve does not match"));
        }
        Ok(())
    }

    fn from_jwk(jwk: &Jwk) -> Option<Self> {
        if jwk
            .common
            .public_key_use
            .as_ref()
            .is_some_and(|u| *u != PublicKeyUse::Signature)
        {
            return None;
        }
        let (family, curve) = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => (AlgorithmFamily::Rsa, None),
            AlgorithmParameters::EllipticCurve(p) => (AlgorithmFamily::Ec, Some(p.curve.clone())),
            AlgorithmParameters::OctetKeyPair(_) => (AlgorithmFamily::Ed, None),
            // Symmetric (`oct`) keys have no place in a public key set; unknown types cannot verify.
            _ => return None,
        };
        let alg = match jwk.common.key_algorithm {
            None => None,
            Some(ka) => Some(signing_alg(ka)?),
        };
        Some(Self {
            kid: jwk.common.key_id.clone(),
            alg,
            family,
            curve,
            decoding: DecodingKey::from_jwk(jwk).ok()?,
        })
    }
}

fn signing_alg(ka: KeyAlgorithm) -> Option<Algorithm> {
    Some(match ka {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        // Encryption keys (RSA-OAEP…), HMAC and unknown algorithms never verify an ID token.
        _ => return None,
    })
}

struct KeySet {
    keys: Vec<Arc<Key>>,
    expires_at: SystemTime,
    generation: u64,
}

impl KeySet {
    /// The key named `kid`; without a `kid` (OIDC Core §10.1 allows it when there is one
    /// key) the only key usable for `alg`.
    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<Arc<Key>> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .cloned(),
            None => {
                let mut usable = self.keys.iter().filter(|k| k.check(alg).is_ok());
                match (usable.next(), usable.next()) {
                    (Some(only), None) => Some(only.clone()),
                    _ => None,
                }
            }
        }
    }
}

/// A shared, self-refreshing JWKS. `Clone` shares the cache; `Send + Sync`.
#[derive(Clone)]
pub struct JwksCache {
    inner: Arc<Inner>,
}

struct Inner {
    url: Url,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    default_ttl: Duration,
    min_ttl: Duration,
    max_ttl: Duration,
    cooldown: Duration,
    keys: ArcSwapOption<KeySet>,
    /// Single flight: whoever holds it fetches, the others wait and reuse the result.
    fetching: tokio::sync::Mutex<()>,
    /// When an unknown `kid` last triggered a refetch, and when a fetch last failed.
    throttle: Mutex<Throttle>,
}

#[derive(Default)]
struct Throttle {
    last_kid_refetch: Option<SystemTime>,
    last_failure: Option<(SystemTime, Error)>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("url", &DisplayUrl::new(&self.inner.url))
            .field("kids", &self.kids())
            .finish()
    }
}

impl JwksCache {
    /// Starts building a cache for the key set at `jwks_uri`.
    pub fn builder(jwks_uri: Url) -> JwksCacheBuilder {
        JwksCacheBuilder {
            url: jwks_uri,
            http: None,
            clock: Arc::new(SystemClock),
            default_ttl: Duration::from_secs(600),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
            cooldown: Duration::from_secs(30),
        }
    }

    /// The key ids currently cached.
    pub fn kids(&self) -> Vec<String> {
        self.inner
            .keys
            .load()
            .as_ref()
            .map(|set| set.keys.iter().filter_map(|k| k.kid.clone()).collect())
            .unwrap_or_default()
    }

    /// Fetches the key set now (coalesced with any fetch in flight).
    pub async fn refresh(&self) -> Result<()> {
        let seen = self.generation();
        let _flight = self.inner.fetching.lock().await;
        if self.generation() != seen {
            return Ok(());
        }
        self.fetch_and_store().await.map(|_| ())
    }

    fn generation(&self) -> Option<u64> {
        self.inner.keys.load().as_ref().map(|s| s.generation)
    }

    fn elapsed(&self, since: Option<SystemTime>, now: SystemTime) -> bool {
        since.is_none_or(|t| {
            now.duration_since(t)
                .is_ok_and(|d| d >= self.inner.cooldown)
        })
    }

    fn lock_throttle(&self) -> std::sync::MutexGuard<'_, Throttle> {
        self.inner
            .throttle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Loads the key set unless a fresh one is cached: for checks that must later run
    /// synchronously against [`cached`](Self::cached) (a JARM response judged by the
    /// loopback receiver).
    pub(crate) async fn ensure_loaded(&self) -> Result<()> {
        let now = self.inner.clock.now();
        let fresh = self
            .inner
            .keys
            .load()
            .as_ref()
            .is_some_and(|set| now < set.expires_at);
        if fresh { Ok(()) } else { self.refresh().await }
    }

    /// The cached key for `kid` and `alg`, without fetching.
    pub(crate) fn cached(&self, kid: Option<&str>, alg: Algorithm) -> Option<Arc<Key>> {
        self.inner.keys.load().as_ref()?.find(kid, alg)
    }

    /// The key for a token's `kid` and `alg`, fetching when needed.
    pub(crate) async fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<Arc<Key>> {
        let now = self.inner.clock.now();
        let current = self.inner.keys.load_full();
        let unknown = || {
            // The `kid` comes from the token: an attacker's can be any length and hold
            // control characters, so only a short escaped prefix is kept.
            Error::from(IdTokenError::UnknownKey {
                kid: kid.map(|kid| untrusted(kid, UNTRUSTED_SHOWN_CHARS)),
            })
        };
        if let Some(set) = &current {
            let fresh = now < set.expires_at;
            let found = set.find(kid, alg);
            match (fresh, found) {
                (true, Some(key)) => return Ok(key),
                (true, None) if !self.elapsed(self.lock_throttle().last_kid_refetch, now) => {
                    return Err(unknown());
                }
                // Expired, and the provider failed recently: keep serving what we have.
                (false, Some(key))
                    if !self
                        .elapsed(self.lock_throttle().last_failure.as_ref().map(|f| f.0), now) =>
                {
                    return Ok(key);
                }
                _ => {}
            }
        }
        let seen = current.as_ref().map(|s| s.generation);
        let _flight = self.inner.fetching.lock().await;
        let latest = self.inner.keys.load_full();
        if let Some(set) = &latest
            && Some(set.generation) != seen
        {
            // Someone fetched while we waited: use their answer, do not fetch again.
            return set.find(kid, alg).ok_or_else(unknown);
        }
        let stale = latest.as_ref().and_then(|s| s.find(kid, alg));
        let fresh = latest.as_ref().is_some_and(|s| now < s.expires_at);
        {
            let mut throttle = self.lock_throttle();
            // A waiter ahead of us tried and failed: don't repeat it within the cooldown.
            if let Some((at, err)) = &throttle.last_failure
                && !self.elapsed(Some(*at), now)
            {
                return stale.ok_or_else(|| err.clone());
            }
            if fresh {
                if !self.elapsed(throttle.last_kid_refetch, now) {
                    return Err(unknown());
                }
                throttle.last_kid_refetch = Some(now);
            }
        }
        match self.fetch_and_store().await {
            Ok(set) => {
                self.lock_throttle().last_failure = None;
                set.find(kid, alg).ok_or_else(unknown)
            }
            Err(err) => {
                self.lock_throttle().last_failure = Some((now, err.clone()));
                match stale {
                    Some(stale) => {
                        tracing::warn!(url = %DisplayUrl::new(&self.inner.url), error = %err, "JWKS refresh failed, using cached keys");
                        Ok(stale)
                    }
                    None => Err(err),
                }
            }
        }
    }

    async fn fetch_and_store(&self) -> Result<Arc<KeySet>> {
        let url = &self.inner.url;
        let fetched = fetch::get(&self.inner.http, url, None).await?;
        if fetched.status != 200 {
            return Err(Error::HttpStatus {
                url: DisplayUrl::new(url),
                status: fetched.status,
                retry_after: None,
            });
        }
        let invalid = |reason: &str| {
            Error::from(OidcError::InvalidDocument {
                url: DisplayUrl::new(url),
                reason: reason.into(),
            })
        };
        let keys = parse_keys(&fetched.body).map_err(invalid)?;
        let ttl = max_age(fetched.cache_control.as_deref())
            .unwrap_or(self.inner.default_ttl)
            .clamp(self.inner.min_ttl, self.inner.max_ttl);
        let now = self.inner.clock.now();
        let set = Arc::new(KeySet {
            keys,
            expires_at: now + ttl,
            generation: self.generation().map_or(1, |g| g + 1),
        });
        self.inner.keys.store(Some(set.clone()));
        tracing::debug!(url = %DisplayUrl::new(url), keys = set.keys.len(), ttl_s = ttl.as_secs(), "JWKS fetched");
        Ok(set)
    }
}

/// The usable signing keys of a JWK Set document, or why there are none.
fn parse_keys(body: &[u8]) -> std::result::Result<Vec<Arc<Key>>, &'static str> {
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|_| "not JSON")?;
    let entries = doc
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or("no `keys` array")?;
    // One odd key (an unknown `kty`, an encryption key) must not poison the others.
    let keys: Vec<Arc<Key>> = entries
        .iter()
        .filter_map(|v| serde_json::from_value::<Jwk>(v.clone()).ok())
        .filter_map(|jwk| Key::from_jwk(&jwk).map(Arc::new))
        .collect();
    if keys.is_empty() {
        return Err("no usable signing key");
    }
    Ok(keys)
}

impl JwksCache {
    /// Fuzzing entry point: parses a JWK Set body and a `Cache-Control` value as a fetch
    /// does, and checks every key against every algorithm; returns the number of keys.
    #[cfg(feature = "fuzzing")]
    #[doc(hidden)]
    pub fn fuzz_parse(body: &[u8], cache_control: &str) -> usize {
        let _ = max_age(Some(cache_control));
        let keys = parse_keys(body).unwrap_or_default();
        for key in &keys {
            for alg in [
                Algorithm::RS256,
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::EdDSA,
                Algorithm::HS256,
            ] {
                let _ = key.check(alg);
            }
        }
        keys.len()
    }
}

/// `max-age` from a `Cache-Control` header (RFC 9111 §5.2.2.1); `no-cache`/`no-store` mean 0,
/// which the minimum TTL then bounds.
fn max_age(cache_control: Option<&str>) -> Option<Duration> {
    let mut result = None;
    for directive in cache_control?.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-cache" || directive == "no-store" {
            return Some(Duration::ZERO);
        }
        if let Some(secs) = directive.strip_prefix("max-age=") {
            result = secs
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    result
}

/// Builds a [`JwksCache`].
#[derive(Debug)]
pub struct JwksCacheBuilder {
    url: Url,
    http: Option<reqwest::Client>,
    clock: Arc<dyn Clock>,
    default_ttl: Duration,
    min_ttl: Duration,
    max_ttl: Duration,
    cooldown: Duration,
}

impl JwksCacheBuilder {
    /// Uses this HTTP client instead of [`crate::http_client`].
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The clock for TTLs and the cooldown (tests use [`crate::ManualClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long keys are kept when the server sends no `max-age` (default 10 min).
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// Bounds for the server's `max-age` (default 1 min to 24 h).
    pub fn ttl_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.min_ttl = min;
        self.max_ttl = max;
        self
    }

    /// The least time between two refetches caused by unknown `kid`s (default 30 s).
    pub fn refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// Checks the settings and builds the cache (it fetches lazily, on first use).
    pub fn build(self) -> Result<JwksCache> {
        if self.min_ttl > self.max_ttl {
            return Err(Error::Config(
                "`jwks.ttl_bounds`: the minimum is above the maximum".into(),
            ));
        }
        let http = match self.http {
            Some(http) => http,
            None => crate::http::http_client()?,
        };
        Ok(JwksCache {
            inner: Arc::new(Inner {
                url: self.url,
                http,
                clock: self.clock,
                default_ttl: self.default_ttl,
                min_ttl: self.min_ttl,
                max_ttl: self.max_ttl,
                cooldown: self.cooldown,
                keys: ArcSwapOption::empty(),
                fetching: tokio::sync::Mutex::new(()),
                throttle: Mutex::new(Throttle::default()),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age() {
        assert_eq!(
            max_age(Some("public, max-age=300")),
            Some(Duration::from_secs(300))
        );
        assert_eq!(max_age(Some("no-store")), Some(Duration::ZERO));
        assert_eq!(max_age(Some("public")), None);
        assert_eq!(max_age(Some("max-age=abc")), None);
        assert_eq!(max_age(None), None);
    }

    #[test]
    fn handle_is_send_sync_clone() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<JwksCache>();
    }
}
