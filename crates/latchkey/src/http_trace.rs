//! A readable trace of every exchange with an identity provider, secrets masked: the request
//! (method, URL, headers, form or JSON fields) and the answer (status, headers, JSON body), as
//! `oauth2c` shows them. Emitted as `tracing` events at DEBUG on [`HTTP_TRACE_TARGET`], so an
//! application (the CLI's `--debug-http`) can show exactly these and not the transport
//! libraries' own logs.

use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;
use url::Url;

use crate::redact::DisplayUrl;
use crate::redact::is_sensitive_name;

/// The `tracing` target of the exchange events. Each event's message is one pre-rendered,
/// multi-line block: `> ` lines for the request, `< ` lines for the answer.
pub const HTTP_TRACE_TARGET: &str = "latchkey::http_trace";

/// The most of a non-JSON body shown (an HTML error page is recognisable from its start).
const TEXT_PREVIEW: usize = 1000;

fn enabled() -> bool {
    tracing::enabled!(target: HTTP_TRACE_TARGET, tracing::Level::DEBUG)
}

/// Traces a request about to be sent. `headers` are the ones latchkey sets.
pub(crate) fn request(
    method: &Method,
    url: &Url,
    headers: &[(&str, &str)],
    content_type: Option<&str>,
    body: &[u8],
) {
    if !enabled() {
        return;
    }
    let mut text = format!("> {method} {}\n", DisplayUrl::new(url));
    for (name, value) in headers {
        text.push_str(&format!("> {name}: {}\n", header_value(name, value, url)));
    }
    push_body(&mut text, '>', content_type, body);
    tracing::debug!(target: HTTP_TRACE_TARGET, "{}", text.trim_end());
}

/// Traces an answer; `body` is `None` when it was not read (a refused redirect).
pub(crate) fn response(url: &Url, status: StatusCode, headers: &HeaderMap, body: Option<&[u8]>) {
    if !enabled() {
        return;
    }
    let mut text = format!("< HTTP {status} (from {})\n", DisplayUrl::new(url));
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        text.push_str(&format!(
            "< {name}: {}\n",
            header_value(name.as_str(), &value, url)
        ));
    }
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if let Some(body) = body {
        push_body(&mut text, '<', content_type, body);
    }
    tracing::debug!(target: HTTP_TRACE_TARGET, "{}", text.trim_end());
}

/// `••••(N)`: that there was a value, and its length, never the value.
fn masked(value: &str) -> String {
    format!("••••({})", value.chars().count())
}

fn header_value(name: &str, value: &str, base: &Url) -> String {
    let lower = name.to_ascii_lowercase();
    if lower == "authorization" || lower == "proxy-authorization" {
        // The scheme says which kind of credential went; the credential stays hidden.
        return match value.split_once(' ') {
            Some((scheme, credential)) => format!("{scheme} {}", masked(credential)),
            None => masked(value),
        };
    }
    if is_sensitive_name(&lower) {
        return masked(value);
    }
    if lower == "location" {
        // A redirect may carry a code or a token in its query.
        if let Ok(to) = base.join(value) {
            return DisplayUrl::new(&to).to_string();
        }
    }
    value.to_owned()
}

fn push_body(text: &mut String, side: char, content_type: Option<&str>, body: &[u8]) {
    if body.is_empty() {
        return;
    }
    let kind = content_type.unwrap_or("").to_ascii_lowercase();
    let shown = if kind.starts_with("application/x-www-form-urlencoded") {
        url::form_urlencoded::parse(body)
            .map(|(name, value)| {
                if is_sensitive_name(&name) {
                    format!("{name}={}", masked(&value))
                } else {
                    format!("{name}={value}")
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    } else if let Ok(mut json) = serde_json::from_slice::<Value>(body) {
        mask_json(&mut json);
        format!("{json:#}")
    } else {
        let text = String::from_utf8_lossy(body);
        let preview: String = text.chars().take(TEXT_PREVIEW).collect();
        if preview.len() < text.len() {
            format!("{preview}\n… ({} bytes in all)", body.len())
        } else {
            preview
        }
    };
    text.push_str(&format!("{side}\n"));
    for line in shown.lines() {
        text.push_str(&format!("{side} {line}\n"));
    }
}

fn mask_json(value: &mut Value) {
    match value {
        Value::Object(members) => {
            for (name, member) in members.iter_mut() {
                match member {
                    Value::String(s) if is_sensitive_name(name) => {
                        *member = Value::String(masked(s))
                    }
                    _ => mask_json(member),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_names_kept() {
        let mut text = String::new();
        push_body(
            &mut text,
            '>',
            Some("application/x-www-form-urlencoded"),
            b"grant_type=refresh_token&refresh_token=rt-123&client_secret=s3cr3t&client_id=app",
        );
        assert_eq!(
            text,
            ">\n> grant_type=refresh_token\n> refresh_token=••••(6)\n> client_secret=••••(6)\n> client_id=app\n"
        );
        let mut text = String::new();
        push_body(
            &mut text,
            '<',
            Some("application/json"),
            br#"{"access_token":"at-1","token_type":"Bearer","id_token":"x.y.z","nested":{"device_code":"dc"}}"#,
        );
        assert!(text.contains(r#""access_token": "••••(4)""#), "{text}");
        assert!(text.contains(r#""token_type": "Bearer""#), "{text}");
        assert!(text.contains(r#""id_token": "••••(5)""#), "{text}");
        assert!(text.contains(r#""device_code": "••••(2)""#), "{text}");
        let base = Url::parse("https://idp.example/token").unwrap();
        assert_eq!(
            header_value("Authorization", "Basic YWJjOmRlZg==", &base),
            "Basic ••••(12)"
        );
        assert_eq!(header_value("Cookie", "sid=1", &base), "••••(5)");
        assert_eq!(
            header_value("Location", "/cb?code=abc&x=1", &base),
            "https://idp.example/cb?code=***&x=1"
        );
    }
}
