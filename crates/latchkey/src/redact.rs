//! URLs made safe to show in logs and error messages.

use std::fmt;
use url::Url;

/// Query parameters whose values never appear in a displayed URL.
const SENSITIVE_PARAMS: &[&str] = &[
    "code",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "id_token_hint",
    "client_secret",
    "password",
    "secret",
    "api_key",
    "apikey",
    "key",
    "state",
    "nonce",
    "code_verifier",
    "assertion",
    "client_assertion",
    "totp",
];

/// A URL that displays without userinfo and with sensitive query values replaced by `***`.
///
/// Every URL that reaches a log line or an error message goes through this type, so a
/// `?code=` or `user:pass@` never leaks into a terminal or a bug report.
#[derive(Clone, PartialEq, Eq)]
pub struct DisplayUrl(std::sync::Arc<Url>);

impl DisplayUrl {
    /// Wraps a URL for display.
    pub fn new(url: &Url) -> Self {
        Self(std::sync::Arc::new(url.clone()))
    }

    /// The wrapped URL, unredacted. Use it only to send a request.
    pub fn as_url(&self) -> &Url {
        &self.0
    }
}

impl From<&Url> for DisplayUrl {
    fn from(url: &Url) -> Self {
        Self::new(url)
    }
}

impl fmt::Display for DisplayUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = &self.0;
        write!(f, "{}://", url.scheme())?;
        if let Some(host) = url.host_str() {
            // IPv6 hosts come back bracketed from `host_str`, so they print correctly.
            f.write_str(host)?;
        }
        if let Some(port) = url.port() {
            write!(f, ":{port}")?;
        }
        f.write_str(url.path())?;
        let mut first = true;
        for (name, value) in url.query_pairs() {
            f.write_str(if first { "?" } else { "&" })?;
            first = false;
            let lower = name.to_ascii_lowercase();
            let shown = if SENSITIVE_PARAMS.contains(&lower.as_str()) || lower.contains("secret") {
                "***".into()
            } else {
                value
            };
            // Re-encode so the displayed form is unambiguous.
            let pair: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair(&name, &shown)
                .finish();
            f.write_str(&pair.replace("%2A%2A%2A", "***"))?;
        }
        Ok(())
    }
}

impl fmt::Debug for DisplayUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_userinfo_and_sensitive_query_values() {
        let url = Url::parse(
            "https://bob:hunter2@idp.example/cb?code=abc123&state=s&lang=en&client_secret=x",
        )
        .unwrap();
        let shown = DisplayUrl::new(&url).to_string();
        assert_eq!(
            shown,
            "https://idp.example/cb?code=***&state=***&lang=en&client_secret=***"
        );
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("abc123"));
    }

    #[test]
    fn keeps_port_and_path() {
        let url = Url::parse("http://127.0.0.1:8080/token").unwrap();
        assert_eq!(
            DisplayUrl::new(&url).to_string(),
            "http://127.0.0.1:8080/token"
        );
    }
}
