//! Request checks: open-redirect-safe `return_to`, same-origin (or trusted-origin) state
//! changes, and a per-client rate limit on starting logins.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
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
/// `Referer`) is `expected` (`scheme://host[:port]`) or one of the `trusted` origins. A
/// request naming neither header is refused too: browsers always send one of them on a form
/// POST.
pub(crate) fn same_origin(
    headers: &HeaderMap,
    expected: &str,
    trusted: &[String],
) -> Result<(), WebAuthError> {
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
        Some(origin) if origin == expected || trusted.contains(&origin) => Ok(()),
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

/// The origin (`scheme://host[:port]`, as browsers send it in `Origin`) of a trusted-origin
/// setting; `None` when it is not an http(s) origin alone.
pub(crate) fn parse_origin(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    let origin_only = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    origin_only.then(|| url.origin().ascii_serialization())
}

/// Most clients tracked at once; past it the older generation is dropped early (see
/// [`RateLimiter::check`]).
const MAX_BUCKETS: usize = 100_000;

/// Where a client's attempts are counted: one IPv4 address, or one IPv6 /64. A /64 is what
/// a single subscriber or host gets, and a host picks any address in it at will (SLAAC,
/// RFC 8981 temporary addresses), so counting per /128 would give one client 2^64 budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Bucket {
    V4(Ipv4Addr),
    V6Prefix64(u64),
}

impl Bucket {
    fn of(ip: IpAddr) -> Self {
        // An IPv4 client reached through an IPv4-mapped IPv6 socket is that IPv4 client.
        match ip.to_canonical() {
            IpAddr::V4(v4) => Bucket::V4(v4),
            IpAddr::V6(v6) => Bucket::V6Prefix64((u128::from(v6) >> 64) as u64),
        }
    }
}

/// The counters: the generation being written and the one before it.
#[derive(Debug)]
struct Generations {
    current: HashMap<Bucket, (u32, Instant)>,
    previous: HashMap<Bucket, (u32, Instant)>,
    started: Instant,
}

/// A fixed-window counter per client (see [`Bucket`]).
#[derive(Debug)]
pub(crate) struct RateLimiter {
    max: u32,
    window: Duration,
    generations: Mutex<Generations>,
    warned_unknown_peer: AtomicBool,
}

impl RateLimiter {
    pub(crate) fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            generations: Mutex::new(Generations {
                current: HashMap::new(),
                previous: HashMap::new(),
                started: Instant::now(),
            }),
            warned_unknown_peer: AtomicBool::new(false),
        }
    }

    /// Counts one attempt from `ip` and refuses it when its window is full.
    ///
    /// An unknown address (the app is served without `ConnectInfo`) is not limited: one
    /// shared bucket would let any client lock everyone out. That is logged once.
    pub(crate) fn check(&self, ip: Option<IpAddr>) -> Result<(), WebAuthError> {
        let Some(ip) = ip else {
            if !self.warned_unknown_peer.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "login rate limit off: the peer address is unknown; serve the app with \
                     `into_make_service_with_connect_info::<SocketAddr>()` (or use \
                     `trust_forwarded_for` behind one reverse proxy)"
                );
            }
            return Ok(());
        };
        let bucket = Bucket::of(ip);
        let now = Instant::now();
        let mut generations = self.generations.lock().unwrap_or_else(|p| p.into_inner());
        // Every window (or when full) the current generation becomes the previous one and
        // the previous one is dropped: a bucket untouched for a whole window is over anyway,
        // and a touched one is carried into the current generation below. Swapping is O(1);
        // the dropped map is freed after the lock is released.
        let stale = (now.duration_since(generations.started) >= self.window
            || generations.current.len() >= MAX_BUCKETS)
            .then(|| {
                let current = std::mem::take(&mut generations.current);
                generations.started = now;
                std::mem::replace(&mut generations.previous, current)
            });
        let carried = generations.previous.remove(&bucket);
        let (count, start) = generations
            .current
            .entry(bucket)
            .or_insert_with(|| carried.unwrap_or((0, now)));
        if now.duration_since(*start) >= self.window {
            (*count, *start) = (0, now);
        }
        let verdict = if *count >= self.max {
            Err(WebAuthError::RateLimited {
                retry_after: self.window.saturating_sub(now.duration_since(*start)),
            })
        } else {
            *count += 1;
            Ok(())
        };
        drop(generations);
        drop(stale);
        verdict
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
        assert!(same_origin(&h, "http://app.example", &[]).is_err());
        h.insert(
            header::REFERER,
            HeaderValue::from_static("http://app.example/page"),
        );
        assert!(same_origin(&h, "http://app.example", &[]).is_ok());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(same_origin(&h, "http://app.example", &[]).is_err());
    }

    #[test]
    fn trusted_origins_pass_the_origin_check_and_nothing_else_does() {
        let trusted = vec!["https://admin.example".to_owned()];
        let with_origin = |origin: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ORIGIN, HeaderValue::from_static(origin));
            same_origin(&h, "https://app.example", &trusted)
        };
        assert!(with_origin("https://app.example").is_ok());
        assert!(with_origin("https://admin.example").is_ok());
        for refused in [
            "https://evil.example",
            "http://admin.example",
            "https://admin.example:8443",
            "https://sub.admin.example",
            "null",
        ] {
            assert!(with_origin(refused).is_err(), "{refused} was accepted");
        }
    }

    #[test]
    fn trusted_origin_settings_must_be_origins() {
        assert_eq!(
            parse_origin("https://Admin.Example:443/").as_deref(),
            Some("https://admin.example")
        );
        assert_eq!(
            parse_origin("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        for bad in [
            "admin.example",
            "https://admin.example/app",
            "https://admin.example/?",
            "https://user@admin.example",
            "ftp://admin.example",
            "null",
            "*",
        ] {
            assert_eq!(parse_origin(bad), None, "{bad} was accepted");
        }
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

    #[test]
    fn rate_limit_forgets_clients_after_two_windows() {
        let limiter = RateLimiter::new(1, Duration::from_millis(100));
        for last in 0..100u8 {
            assert!(
                limiter
                    .check(Some(IpAddr::V4(Ipv4Addr::new(10, 1, 0, last))))
                    .is_ok()
            );
        }
        let tracked = || {
            let g = limiter.generations.lock().unwrap();
            g.current.len() + g.previous.len()
        };
        assert_eq!(tracked(), 100);
        let other = Some(IpAddr::V4(Ipv4Addr::new(10, 2, 0, 1)));
        for _ in 0..2 {
            std::thread::sleep(Duration::from_millis(110));
            assert!(limiter.check(other).is_ok());
        }
        assert_eq!(
            tracked(),
            1,
            "only the client seen in the last window is left"
        );
    }

    #[test]
    fn buckets_are_ipv4_addresses_and_ipv6_64_prefixes() {
        let of = |ip: &str| Bucket::of(ip.parse().unwrap());
        assert_eq!(of("2001:db8::1"), of("2001:db8::ffff:1"));
        assert_ne!(of("2001:db8::1"), of("2001:db8:0:1::1"));
        assert_eq!(of("::ffff:192.0.2.1"), of("192.0.2.1"));
        assert_ne!(of("192.0.2.1"), of("192.0.2.2"));
    }
}
