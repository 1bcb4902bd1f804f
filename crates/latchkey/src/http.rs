//! The one place a `reqwest::Client` is built.

use std::time::Duration;

use url::Url;

use crate::error::{Error, Result};
use crate::redact::DisplayUrl;

/// A client for talking to identity providers: rustls with the platform's trust store, no
/// redirects (a token request must never be replayed at another host), bounded timeouts and
/// an identifying `User-Agent`.
#[allow(
    clippy::disallowed_methods,
    reason = "the one constructor every other client is pointed to by clippy.toml"
)]
pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))
}

/// Whether `url` points at this machine (where plain HTTP is acceptable, RFC 8252 §8.3).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Parses an endpoint URL for `field`, requiring HTTPS unless it is loopback or
/// `allow_insecure` is set.
pub(crate) fn endpoint(field: &str, raw: &str, allow_insecure: bool) -> Result<Url> {
    let url = Url::parse(raw)
        .map_err(|e| Error::Config(format!("`{field}` is not a valid URL ({e})")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_insecure || is_loopback(&url) => Ok(url),
        "http" => Err(Error::Config(format!(
            "`{field}` ({}) uses plain HTTP; use https, or allow insecure HTTP explicitly for testing",
            DisplayUrl::new(&url)
        ))),
        other => Err(Error::Config(format!(
            "`{field}` has unsupported scheme `{other}`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback_unless_allowed() {
        assert!(endpoint("token_url", "http://127.0.0.1:9/token", false).is_ok());
        assert!(endpoint("token_url", "http://[::1]:9/token", false).is_ok());
        assert!(endpoint("token_url", "http://localhost/token", false).is_ok());
        let err = endpoint("token_url", "http://idp.example/token", false).unwrap_err();
        assert!(err.to_string().contains("token_url"), "{err}");
        assert!(endpoint("token_url", "http://idp.example/token", true).is_ok());
        assert!(endpoint("token_url", "ftp://idp.example/token", true).is_err());
    }
}
