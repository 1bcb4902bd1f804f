//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): the session and login
//! records read back from a store, and the signed-cookie read path. Not an API.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use secrecy::SecretString;

use crate::session::{CookieConfig, PendingRecord, SessionRecord, open};

/// A marker the seed corpora put into values: no error message may repeat it.
pub const MARKER: &str = "s3cret";

/// A stored session record and a stored login record, as a store hands them back.
pub fn records(raw: &str) -> (bool, bool) {
    let raw = SecretString::from(raw);
    let check = |error: crate::WebAuthError| {
        let text = error.to_string();
        assert!(
            !text.contains(MARKER),
            "an error message quotes a value: {text}"
        );
    };
    let session = open::<SessionRecord>(&raw).map_err(check).is_ok();
    let pending = open::<PendingRecord>(&raw).map_err(check).is_ok();
    (session, pending)
}

fn config() -> CookieConfig {
    CookieConfig {
        session_name: "s".into(),
        login_name: "s_login".into(),
        secure: true,
        master_key: vec![7; 64].into(),
    }
}

/// `Cookie` header fields as a browser (or an attacker) sends them; what the app reads.
pub fn read_cookies(fields: &[&[u8]]) -> [Option<String>; 2] {
    let mut headers = HeaderMap::new();
    for field in fields {
        if let Ok(value) = HeaderValue::from_bytes(field) {
            headers.append(header::COOKIE, value);
        }
    }
    let config = config();
    [config.read(&headers, "s"), config.read(&headers, "s_login")]
}

/// Signs `value` into a cookie, reads it back, then reads it again with the byte at
/// `position` changed by `flip`: the first read must give `value`, the edited one `value`
/// or nothing (a change in the signature's padding bits may still verify), never another
/// value.
pub fn signed_round_trip(value: &str, position: usize, flip: u8) {
    // Cookie values the app writes are URL-safe ids; RFC 6265 §4.1.1 cookie-octets only.
    let octet = |c: char| matches!(c, '\x21' | '\x23'..='\x2b' | '\x2d'..='\x3a' | '\x3c'..='\x5b' | '\x5d'..='\x7e');
    if !value.chars().all(octet) {
        return;
    }
    let config = config();
    let Ok(set) = config.set("s", value, Duration::from_secs(60)) else {
        return;
    };
    let Some(pair) = set.to_str().ok().and_then(|s| s.split(';').next()) else {
        return;
    };
    let read = |pair: &[u8]| {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_bytes(pair).ok()?);
        config.read(&headers, "s")
    };
    assert_eq!(read(pair.as_bytes()).as_deref(), Some(value));
    let mut edited = pair.as_bytes().to_vec();
    // Only the value after `s=` is edited: a changed name is another cookie.
    let at = 2 + position % (edited.len() - 2);
    edited[at] ^= flip;
    if flip != 0
        && let Some(got) = read(&edited)
    {
        assert_eq!(
            got, value,
            "an edited cookie was accepted with another value"
        );
    }
}
