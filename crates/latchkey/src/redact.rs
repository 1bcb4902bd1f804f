//! URLs, parser errors and untrusted values made safe to show in logs and error messages.

use std::fmt;
use url::Url;

/// Names whose values never appear in a displayed URL or an HTTP trace (see
/// [`is_sensitive_name`]).
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
    "device_code",
    // JAR's signed request (state, nonce inside), PAR's handle to it, JARM's signed response
    // (the code inside).
    "request",
    "request_uri",
    "response",
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// Whether a query parameter, form field, JSON member or header named `name` carries a
/// secret: the names above, any `…_token`, anything naming a secret or a password. The one
/// list for displayed URLs and the HTTP trace alike.
pub(crate) fn is_sensitive_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SENSITIVE_PARAMS.contains(&name.as_str())
        || name.ends_with("_token")
        || name.contains("secret")
        || name.contains("password")
}

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
            let shown = if is_sensitive_name(&name) {
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

/// How many characters of an untrusted value (a `kid`, an `iss`) an error message shows.
pub(crate) const UNTRUSTED_SHOWN_CHARS: usize = 64;

/// An attacker-controlled value made fit for an error message: at most `max_chars`
/// characters, escaped (no control characters or newlines reach a log line), and the
/// original length named when it was cut.
pub(crate) fn untrusted(value: &str, max_chars: usize) -> String {
    let mut shown: String = value
        .chars()
        .take(max_chars)
        .flat_map(char::escape_debug)
        .collect();
    let total = value.chars().count();
    if total > max_chars {
        shown.push_str(&format!("… ({total} characters)"));
    }
    shown
}

/// A serde_json error as text fit for an error message: the line and column and what was
/// expected, never the values the input held.
///
/// serde's own message quotes the offending value (`invalid type: string "jane@example.com",
/// expected u64`), which puts claim values, tokens or secrets into errors, logs and error
/// pages. Every place that shows a JSON or TOML parse error goes through this scrubber.
pub fn scrub_serde_error(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let position = (err.line() > 0).then(|| (err.line(), err.column()));
    let message = match position {
        Some((line, column)) => text
            .strip_suffix(&format!(" at line {line} column {column}"))
            .unwrap_or(&text),
        None => &text,
    };
    scrub_message(message, position)
}

/// A TOML error's message without quoted values; the caller names the position (TOML errors
/// carry a byte span, which only the caller can turn into a line and column).
#[cfg(feature = "profiles")]
pub(crate) fn scrub_toml_message(err: &toml::de::Error) -> String {
    scrub_message(err.message().trim_end(), None)
}

/// The one place that drops values from a serde message. serde's messages that quote input
/// are `invalid type: <kind> <value>, expected …`, `invalid value: …`, `unknown variant
/// `<value>`, expected …` and `unknown field `<key>`, expected …`; the kind of value and
/// the expectation are kept, the value goes, and a key is cut and escaped.
fn scrub_message(message: &str, position: Option<(usize, usize)>) -> String {
    let scrubbed = if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
    {
        let label = &message[..message.len() - rest.len() - 2];
        // The expectation comes from the schema and follows the value, so the last
        // `, expected ` is the real one even when the value itself contains those words.
        let (unexpected, expected) = match rest.rsplit_once(", expected ") {
            Some((unexpected, expected)) => (unexpected, Some(expected)),
            None => (rest, None),
        };
        // serde names the kind first (`string`, `integer`, `map`…), then the value in quotes.
        let kind = unexpected
            .split(['"', '`', '\''])
            .next()
            .unwrap_or_default()
            .trim();
        let kind = if kind.is_empty() { "value" } else { kind };
        match expected {
            Some(expected) => format!("{label}: {kind}, expected {expected}"),
            None => format!("{label}: {kind}"),
        }
    } else if let Some(rest) = message.strip_prefix("unknown variant ") {
        match rest.rsplit_once(", expected ") {
            Some((_, expected)) => format!("unknown variant, expected {expected}"),
            None => "unknown variant".to_owned(),
        }
    } else if let Some(rest) = message.strip_prefix("unknown field `") {
        // A misspelt key is the useful part of this message (`pasword`); it comes from
        // the input, so it is cut and escaped like any untrusted value.
        let (key, expected) = match rest.rsplit_once("`, expected ") {
            Some((key, expected)) => (key, format!(", expected {expected}")),
            None => match rest.rsplit_once("`, there are no fields") {
                Some((key, _)) => (key, ", there are no fields".to_owned()),
                None => (rest.trim_end_matches('`'), String::new()),
            },
        };
        format!(
            "unknown field `{}`{expected}",
            untrusted(key, UNTRUSTED_SHOWN_CHARS)
        )
    } else {
        message.to_owned()
    };
    match position {
        Some((line, column)) => format!("{scrubbed} at line {line} column {column}"),
        None => scrubbed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_list_hides_what_the_url_display_and_the_http_trace_each_hid() {
        for secret in [
            "code",
            "state",
            "nonce",
            "api_key",
            "client_secret",
            "password",
            "totp",
            "device_code",
            "refresh_token",
            "subject_token",
            "X-Client-Secret",
            "Cookie",
            "Authorization",
            "db_password",
        ] {
            assert!(is_sensitive_name(secret), "{secret} must be hidden");
        }
        for plain in [
            "scope",
            "grant_type",
            "client_id",
            "redirect_uri",
            "expires_in",
            "user_code",
        ] {
            assert!(!is_sensitive_name(plain), "{plain} is shown");
        }
        let url = Url::parse("https://idp.example/cb?device_code=d1&x_token=t1&scope=a").unwrap();
        assert_eq!(
            DisplayUrl::new(&url).to_string(),
            "https://idp.example/cb?device_code=***&x_token=***&scope=a"
        );
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code, reason = "only the errors of parsing into it are looked at")]
    struct Claims {
        exp: u64,
        email: Option<String>,
        kind: Option<Kind>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Basic,
    }

    fn json_error(json: &str) -> String {
        scrub_serde_error(&serde_json::from_str::<Claims>(json).unwrap_err())
    }

    #[test]
    fn serde_errors_keep_position_and_expectation_but_drop_values() {
        let text = json_error(r#"{"exp": "jane.doe@example.com, expected u64"}"#);
        assert_eq!(
            text,
            "invalid type: string, expected u64 at line 1 column 44"
        );
        let text = json_error(r#"{"exp": 1, "email": 12345678}"#);
        assert_eq!(
            text,
            "invalid type: integer, expected a string at line 1 column 28"
        );
        let text = json_error(r#"{"exp": 1, "kind": "s3cret-variant"}"#);
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.starts_with("unknown variant, expected "), "{text}");
        assert!(text.ends_with(" at line 1 column 35"), "{text}");
        // Syntax errors quote nothing and pass unchanged.
        assert_eq!(
            json_error("{\"exp\": 1,"),
            "EOF while parsing a value at line 1 column 10"
        );
    }

    #[test]
    fn unknown_keys_are_cut_and_escaped() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code, reason = "only the errors of parsing into it are looked at")]
        struct Strict {
            password: Option<String>,
        }
        let err = serde_json::from_str::<Strict>(r#"{"pasword": "x"}"#).unwrap_err();
        let text = scrub_serde_error(&err);
        assert!(
            text.starts_with("unknown field `pasword`, expected `password`"),
            "{text}"
        );
        let long = format!("{{\"{}\\n\": 1}}", "k".repeat(10_000));
        let err = serde_json::from_str::<Strict>(&long).unwrap_err();
        let text = scrub_serde_error(&err);
        assert!(text.len() < 300, "{text}");
        assert!(
            text.contains("(10001 characters)") && !text.contains('\n'),
            "{text}"
        );
    }

    #[test]
    fn untrusted_values_are_cut_and_escaped() {
        assert_eq!(untrusted("kid-1", 64), "kid-1");
        assert_eq!(untrusted("a\nb", 64), "a\\nb");
        assert_eq!(untrusted(&"x".repeat(100), 3), "xxx… (100 characters)");
    }

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
