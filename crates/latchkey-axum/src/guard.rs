//! Request checks: open-redirect-safe `return_to`, same-origin state changes, and a per-IP
//! rate limit on starting logins.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};

use crate::error::WebAuthError;

/// Accepts `raw` as a post-login destination only when it is a path on this site, and
/// returns it normalised (dot segments resolved, percent-encoded the way a browser would):
/// the redirect then goes exactly where a browser would have resolved `raw`.
///
/// Refused: anything not starting with one `/`; a backslash, raw or encoded as `%5c` (browsers
/// read `/\evil` as `//evil`); an encoded slash `%2f` in the path (servers that decode it
/// before routing see another path); a control character; and a path that normalises to one
/// starting with `//` (`/.//evil`, `/..//evil`, `/%2e//evil`), which a relative redirect
/// further on turns into the host `evil`.
pub fn safe_return_to(raw: &str) -> Result<String, WebAuthError> {
    let path = raw
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let plausible = raw.starts_with('/')
        && !raw.starts_with("//")
        && raw.len() <= 2048
        && !raw.chars().any(|c| c == '\\' || c.is_control())
        && !path.contains("%2f")
        && !path.contains("%5c");
    if !plausible {
        return Err(WebAuthError::UnsafeReturnTo);
    }
    // Resolved against a placeholder origin it must stay there; WHATWG parsing is what
    // browsers do with the `Location` header.
    let base =
        url::Url::parse("https://origin.invalid/").map_err(|_| WebAuthError::UnsafeReturnTo)?;
    let resolved = base.join(raw).map_err(|_| WebAuthError::UnsafeReturnTo)?;
    let normalised = &resolved[url::Position::BeforePath..];
    if resolved.origin() != base.origin()
        || !normalised.starts_with('/')
        || normalised.starts_with("//")
    {
        return Err(WebAuthError::UnsafeReturnTo);
    }
    Ok(normalised.to_owned())
}

/// Refuses a state-changing request unless its `Origin` (or, when a browser sends none, its
/// `Referer`) is `expected` (`scheme://host[:port]`). A request naming neither is refused
/// too: browsers always send one of them on a form POST.
pub(crate) fn same_origin(headers: &HeaderMap, expected: &str) -> Result<(), WebAuthError> {
    let sent = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .and_then(|r| url::Url::parse(r).ok())
                .map(|u| u.origin().ascii_serialization())
        });
    match sent {
        Some(origin) if origin == expected => Ok(()),
        other => {
            tracing::debug!(
                origin = other.as_deref().map(|o| o.escape_debug().to_string()),
                "cross-origin state-changing request refused"
            );
            Err(WebAuthError::OriginMismatch {
                expected: expected.to_owned(),
            })
        }
    }
}

/// A fixed-window counter per client address.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    max: u32,
    window: Duration,
    windows: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl RateLimiter {
    pub(crate) fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            windows: Mutex::default(),
        }
    }

    /// Counts one attempt from `ip` (unknown addresses share one bucket) and refuses it when
    /// the window is full.
    pub(crate) fn check(&self, ip: Option<IpAddr>) -> Result<(), WebAuthError> {
        let ip = ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() > 10_000 {
            windows.retain(|_, (_, start)| now.duration_since(*start) < self.window);
        }
        let (count, start) = windows.entry(ip).or_insert((0, now));
        if now.duration_since(*start) >= self.window {
            (*count, *start) = (0, now);
        }
        if *count >= self.max {
            return Err(WebAuthError::RateLimited {
                retry_after: self.window.saturating_sub(now.duration_since(*start)),
            });
        }
        *count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn return_to_accepts_local_paths_only() {
        for good in ["/", "/reports?id=7", "/a/b#frag", "/search?q=http://x"] {
            assert_eq!(safe_return_to(good).unwrap(), good);
        }
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "evil",
            "javascript:alert(1)",
            "/\tevil",
            "",
            "/%0a//evil",
        ] {
            let verdict = safe_return_to(bad);
            // `/%0a//evil` is a path with an encoded newline: harmless, stays on the site.
            if bad == "/%0a//evil" {
                assert!(verdict.is_ok());
            } else {
                assert!(verdict.is_err(), "{bad:?} was accepted");
            }
        }
    }

    #[test]
    fn origin_check_uses_origin_then_referer() {
        let mut h = HeaderMap::new();
        assert!(same_origin(&h, "http://app.example").is_err());
        h.insert(
            header::REFERER,
            HeaderValue::from_static("http://app.example/page"),
        );
        assert!(same_origin(&h, "http://app.example").is_ok());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(same_origin(&h, "http://app.example").is_err());
    }

    #[test]
    fn rate_limit_counts_per_address() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        let a = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        let b = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_ok());
        assert!(matches!(
            limiter.check(a),
            Err(WebAuthError::RateLimited { .. })
        ));
        assert!(limiter.check(b).is_ok());
    }
}
