//! The key a manager stores its tokens under when none is given.

use sha2::{Digest, Sha256};
use url::Url;

/// The store key for tokens of `client_id` at the token endpoint `token_url`:
/// `oauth-<host, port, path and client id, made key-safe>-<16 hex digits of a SHA-256 of
/// both>`, e.g. `oauth-idp.example.org_token-svc-3f9a…`.
///
/// dhis2w keys tokens by `{base_url}:{client_id}`; store keys allow only letters, digits,
/// `.`, `_` and `-`, so the readable part is made safe and the hash keeps two servers or
/// clients whose safe spellings meet (`a/b` and `a_b`) apart. The result is at most 128
/// characters and always a valid key.
pub fn default_store_key(token_url: &Url, client_id: &str) -> String {
    const HASH_DIGITS: usize = 16;
    const PREFIX: &str = "oauth-";
    let digest = Sha256::digest(format!("{token_url}\n{client_id}").as_bytes());
    let hash: String = digest[..HASH_DIGITS / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut where_ = token_url.host_str().unwrap_or_default().to_owned();
    if let Some(port) = token_url.port() {
        where_.push_str(&format!("_{port}"));
    }
    where_.push_str(token_url.path());
    let readable: String = format!("{}-{client_id}", where_.trim_end_matches('/'))
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(crate::store::MAX_KEY_LEN - PREFIX.len() - 1 - HASH_DIGITS)
        .collect();
    format!("{PREFIX}{readable}-{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_valid_readable_and_distinct() {
        let url = |s: &str| Url::parse(s).unwrap();
        let a = default_store_key(&url("https://idp.example.org/realms/x/token"), "svc");
        assert!(
            a.starts_with("oauth-idp.example.org_realms_x_token-svc-"),
            "{a}"
        );
        crate::store::validate_key(&a).unwrap();
        let b = default_store_key(&url("https://idp.example.org/realms/y/token"), "svc");
        let c = default_store_key(&url("https://idp.example.org/realms/x/token"), "web");
        let d = default_store_key(&url("http://127.0.0.1:8080/token"), "svc");
        let e = default_store_key(&url("http://127.0.0.1:8081/token"), "svc");
        assert!(d.starts_with("oauth-127.0.0.1_8080_token-svc-"), "{d}");
        let all = [&a, &b, &c, &d, &e];
        for (i, x) in all.iter().enumerate() {
            for y in &all[i + 1..] {
                assert_ne!(x, y);
            }
        }
        // Same safe spelling, different clients: the hash keeps them apart.
        let slash = default_store_key(&url("https://h/t"), "a/b");
        let under = default_store_key(&url("https://h/t"), "a_b");
        assert_ne!(slash, under);
        let long = default_store_key(&url("https://h/t"), &"x".repeat(500));
        assert_eq!(long.len(), 128);
        crate::store::validate_key(&long).unwrap();
    }
}
