//! Times as people read them: an RFC 3339 instant with how far it is from now beside it
//! ("2026-12-05T14:03:21Z, in 54 min").

use std::time::{Duration, SystemTime};

use crate::output;

/// A length of time in its largest one or two units: `40 s`, `54 min`, `2 h 5 min`,
/// `3 days`. Seconds only below a minute: nobody reads "54 min 12 s" at a glance.
pub(crate) fn span(d: Duration) -> String {
    let secs = d.as_secs();
    let (days, hours, mins) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (1, _, _) => "1 day".into(),
        (d, _, _) => format!("{d} days"),
    }
}

/// `in 54 min` or `5 min ago`, from `now`.
pub(crate) fn relative(at: SystemTime, now: SystemTime) -> String {
    match at.duration_since(now) {
        Ok(ahead) => format!("in {}", span(ahead)),
        Err(e) => format!("{} ago", span(e.duration())),
    }
}

/// `2026-12-05T14:03:21Z, in 54 min`.
pub(crate) fn absolute_and_relative(at: SystemTime, now: SystemTime) -> String {
    format!("{}, {}", output::rfc3339(at), relative(at, now))
}

/// `valid for 12 min` or `expired 5 min ago`: an expiry seen from `now`.
pub(crate) fn validity(expires: SystemTime, now: SystemTime) -> String {
    match expires.duration_since(now) {
        Ok(left) => format!("valid for {}", span(left)),
        Err(e) => format!("expired {} ago", span(e.duration())),
    }
}

/// A JWT/introspection `NumericDate` (seconds since the epoch) as a time; `None` before
/// the epoch or past what the platform's clock can hold.
pub(crate) fn from_epoch(secs: i64) -> Option<SystemTime> {
    let secs = u64::try_from(secs).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_at_a_glance() {
        let s = Duration::from_secs;
        assert_eq!(span(s(40)), "40 s");
        assert_eq!(span(s(54 * 60 + 12)), "54 min");
        assert_eq!(span(s(2 * 3600)), "2 h");
        assert_eq!(span(s(2 * 3600 + 5 * 60)), "2 h 5 min");
        assert_eq!(span(s(86_400 + 7200)), "1 day");
        assert_eq!(span(s(3 * 86_400)), "3 days");
    }

    #[test]
    fn relative_and_validity_in_both_directions() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let later = now + Duration::from_secs(12 * 60);
        let earlier = now - Duration::from_secs(5 * 60);
        assert_eq!(relative(later, now), "in 12 min");
        assert_eq!(relative(earlier, now), "5 min ago");
        assert_eq!(validity(later, now), "valid for 12 min");
        assert_eq!(validity(earlier, now), "expired 5 min ago");
    }
}
