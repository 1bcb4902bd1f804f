//! Server-provided DPoP nonces (RFC 9449 §8, §9), remembered per origin.

use std::collections::HashMap;
use std::sync::Mutex;

use http::HeaderMap;
use http::header::WWW_AUTHENTICATE;
use http_auth::parser::ChallengeParser;
use url::Url;

/// The `DPoP-Nonce` response header.
pub const DPOP_NONCE: &str = "dpop-nonce";

/// The latest nonce each origin (authorization server or resource server) gave.
#[derive(Debug, Default)]
pub(crate) struct Nonces {
    by_origin: Mutex<HashMap<String, Seen>>,
}

#[derive(Debug, Clone)]
enum Seen {
    Nonce(String),
    /// The origin answered a proof without a nonce and gave none: it does not use them.
    NoneNeeded,
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

impl Nonces {
    /// The latest nonce for `url`'s origin.
    pub(crate) fn get(&self, url: &Url) -> Option<String> {
        match self.lock().get(&origin(url)) {
            Some(Seen::Nonce(n)) => Some(n.clone()),
            _ => None,
        }
    }

    /// Whether anything is known about `url`'s origin: a nonce, or that it needs none.
    pub(crate) fn known(&self, url: &Url) -> bool {
        self.lock().contains_key(&origin(url))
    }

    /// Remembers the nonce of a response from `url`; returns it when it is new.
    pub(crate) fn observe(&self, url: &Url, headers: &HeaderMap) -> Option<String> {
        let nonce = nonce_header(headers)?;
        let mut map = self.lock();
        let slot = map.entry(origin(url)).or_insert(Seen::NoneNeeded);
        if matches!(slot, Seen::Nonce(n) if *n == nonce) {
            return None;
        }
        *slot = Seen::Nonce(nonce.clone());
        Some(nonce)
    }

    /// Records that `url`'s origin accepted a proof without asking for a nonce.
    pub(crate) fn none_needed(&self, url: &Url) {
        self.lock().entry(origin(url)).or_insert(Seen::NoneNeeded);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Seen>> {
        self.by_origin.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The `DPoP-Nonce` header's value, when it is one (RFC 9449 §8.1: `1*NQCHAR`).
pub(crate) fn nonce_header(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(DPOP_NONCE)?.to_str().ok()?.trim();
    let printable = value
        .bytes()
        .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\');
    (!value.is_empty() && printable).then(|| value.to_owned())
}

/// Whether a resource server's answer asks for a nonce (RFC 9449 §9: 401 with
/// `WWW-Authenticate: DPoP error="use_dpop_nonce"`).
pub(crate) fn resource_wants_nonce(headers: &HeaderMap) -> bool {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|value| {
            ChallengeParser::new(value)
                .map_while(Result::ok)
                .filter(|c| c.scheme.eq_ignore_ascii_case("dpop"))
                .any(|c| {
                    c.params.iter().any(|(name, v)| {
                        name.eq_ignore_ascii_case("error") && v.to_unescaped() == "use_dpop_nonce"
                    })
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_kept_per_origin_and_challenges_read() {
        let nonces = Nonces::default();
        let a = Url::parse("https://a.example/token").unwrap();
        let a2 = Url::parse("https://a.example/other?x").unwrap();
        let b = Url::parse("https://b.example/token").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(DPOP_NONCE, "n-1".parse().unwrap());
        assert_eq!(nonces.observe(&a, &headers).as_deref(), Some("n-1"));
        assert_eq!(nonces.observe(&a, &headers), None, "not new");
        assert_eq!(nonces.get(&a2).as_deref(), Some("n-1"));
        assert!(nonces.get(&b).is_none() && !nonces.known(&b));
        nonces.none_needed(&b);
        assert!(nonces.known(&b) && nonces.get(&b).is_none());

        let mut challenge = HeaderMap::new();
        challenge.insert(
            WWW_AUTHENTICATE,
            r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#
                .parse()
                .unwrap(),
        );
        assert!(resource_wants_nonce(&challenge));
        challenge.insert(
            WWW_AUTHENTICATE,
            r#"Bearer error="invalid_token""#.parse().unwrap(),
        );
        assert!(!resource_wants_nonce(&challenge));
    }
}
