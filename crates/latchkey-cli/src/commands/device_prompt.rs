//! How `login --device` shows its code. On a terminal: a QR code of the verification URL
//! (a phone can scan it off a headless box's screen), the user code in bold, copied to the
//! clipboard when there is one, and a live line counting down the code's time. Without a
//! terminal (scripts, CI logs): the same text, plain, with the time left as one line.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use latchkey::DevicePrompt;

use crate::output;

/// Set to `1` (or `true`, `yes`) to never touch the clipboard (the tests do).
pub(crate) const NO_CLIPBOARD: &str = "LATCHKEY_NO_CLIPBOARD";

/// Shows device prompts, holding the clipboard for as long as the login runs.
pub(super) struct DeviceDisplay {
    bar: ProgressBar,
    /// On X11 the text stays pasteable only while its owner lives: until the login ends.
    clipboard: Mutex<Option<Held>>,
}

/// What keeps the copied code pasteable (nothing without the `clipboard` feature).
#[cfg(feature = "clipboard")]
type Held = arboard::Clipboard;
#[cfg(not(feature = "clipboard"))]
type Held = ();

/// Puts `code` on the clipboard, if one is reachable.
#[cfg(feature = "clipboard")]
fn put_on_clipboard(code: &str) -> Option<Held> {
    let mut clipboard = arboard::Clipboard::new().ok()?;
    clipboard.set_text(code).ok()?;
    Some(clipboard)
}

/// A build without the `clipboard` feature has no clipboard to put the code on.
#[cfg(not(feature = "clipboard"))]
fn put_on_clipboard(_code: &str) -> Option<Held> {
    None
}

impl DeviceDisplay {
    /// A display that redraws its countdown on `bar` (hidden without a terminal).
    pub(super) fn new(bar: ProgressBar) -> Self {
        Self {
            bar,
            clipboard: Mutex::new(None),
        }
    }

    /// Prints the prompt to stderr, then turns the bar into the countdown.
    pub(super) fn show(&self, prompt: &DevicePrompt) {
        let terminal = std::io::stderr().is_terminal();
        let copied = self.copy(&prompt.user_code);
        let expires_at = SystemTime::now() + prompt.expires_in;
        let text = render(&Shown::from(prompt), terminal, copied, expires_at);
        // The countdown style first: `suspend` redraws the bar when it returns.
        self.bar
            .set_style(countdown(Instant::now() + prompt.expires_in));
        // anstream drops the bold when stderr is not a terminal or NO_COLOR is set.
        self.bar.suspend(|| anstream::eprint!("{text}"));
        self.bar.enable_steady_tick(Duration::from_millis(120));
    }

    /// Copies the code when a clipboard is reachable; never fails the login.
    fn copy(&self, code: &str) -> bool {
        if !clipboard_wanted(|name| std::env::var(name).ok()) {
            return false;
        }
        let Some(clipboard) = put_on_clipboard(code) else {
            return false;
        };
        if let Ok(mut held) = self.clipboard.lock() {
            *held = Some(clipboard);
        }
        true
    }
}

/// Whether to try the clipboard: not when opted out, and on Linux and the BSDs not without
/// a display (there is no clipboard to reach, and trying can be slow).
fn clipboard_wanted(var: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    let opted_out = var(NO_CLIPBOARD).is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
    if opted_out {
        return false;
    }
    if cfg!(all(unix, not(target_os = "macos"))) {
        return set("DISPLAY") || set("WAYLAND_DISPLAY");
    }
    true
}

/// What is shown of a [`DevicePrompt`] (which only the library can build).
struct Shown<'a> {
    verification_uri: &'a str,
    verification_uri_complete: Option<&'a str>,
    user_code: &'a str,
    expires_in: Duration,
}

impl<'a> From<&'a DevicePrompt> for Shown<'a> {
    fn from(p: &'a DevicePrompt) -> Self {
        Self {
            verification_uri: &p.verification_uri,
            verification_uri_complete: p.verification_uri_complete.as_deref(),
            user_code: &p.user_code,
            expires_in: p.expires_in,
        }
    }
}

/// The prompt's text. The URL keeps a line of its own (scripts and tests read it there).
fn render(prompt: &Shown<'_>, terminal: bool, copied: bool, expires_at: SystemTime) -> String {
    let bold = anstyle::Style::new().bold();
    let code = format!("{bold}{}{bold:#}", prompt.user_code);
    let copied = if copied {
        ", copied to the clipboard"
    } else {
        ""
    };
    let link = prompt
        .verification_uri_complete
        .unwrap_or(prompt.verification_uri);
    let mut text = String::new();
    if terminal && let Some(qr) = qr_code(link) {
        text.push_str("Scan this QR code with a phone, or use the URL below:\n");
        text.push_str(&qr);
    }
    match prompt.verification_uri_complete {
        Some(complete) => {
            let _ = writeln!(
                text,
                "To log in, open this URL on any device and approve the request:\n  {complete}\n(or open {} and enter the code {code}{copied})",
                prompt.verification_uri
            );
        }
        None => {
            let _ = writeln!(
                text,
                "To log in, open {} on any device and enter the code {code}{copied}",
                prompt.verification_uri
            );
        }
    }
    if !terminal {
        // The live countdown needs a terminal; a log gets the deadline once.
        let _ = writeln!(
            text,
            "The code expires in {}, at {}.",
            minutes(prompt.expires_in),
            output::rfc3339(expires_at)
        );
    }
    text
}

/// The URL as a QR code in Unicode half-blocks (two modules per character cell), light on
/// dark as most terminals are; phone cameras read either polarity.
fn qr_code(url: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    let mut drawn = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    drawn.push('\n');
    Some(drawn)
}

/// `10 minutes`, `1 minute`, or seconds under a minute (rounded to the nearest minute, so
/// a server's 599 s reads as the 10 minutes it means).
fn minutes(left: Duration) -> String {
    let secs = left.as_secs();
    if secs < 60 {
        return format!("{secs} s");
    }
    match (secs + 30) / 60 {
        1 => "1 minute".to_owned(),
        n => format!("{n} minutes"),
    }
}

/// The spinner line while polling: the time the code has left, as `m:ss`.
fn countdown(deadline: Instant) -> ProgressStyle {
    let left = move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
        let secs = deadline.saturating_duration_since(Instant::now()).as_secs();
        let _ = if secs == 0 {
            write!(w, "expired")
        } else {
            write!(w, "expires in {}:{:02}", secs / 60, secs % 60)
        };
    };
    ProgressStyle::with_template("{spinner} waiting for approval; the code {left}")
        .map(|style| style.with_key("left", left))
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(complete: bool) -> Shown<'static> {
        Shown {
            verification_uri: "https://idp.example.org/device",
            verification_uri_complete: complete
                .then_some("https://idp.example.org/device?user_code=WDJB-MJHT"),
            user_code: "WDJB-MJHT",
            expires_in: Duration::from_secs(599),
        }
    }

    #[test]
    fn a_terminal_gets_a_qr_code_and_the_code_in_bold() {
        let text = render(&prompt(true), true, true, SystemTime::UNIX_EPOCH);
        assert!(text.contains('▀') || text.contains('▄'), "{text}");
        assert!(
            text.contains("\x1b[1mWDJB-MJHT\x1b[0m, copied to the clipboard"),
            "{text}"
        );
        assert!(!text.contains("expires in"), "the bar counts down: {text}");
        // Every QR row is as wide as the others.
        let rows: Vec<_> = text
            .lines()
            .skip(1)
            .take_while(|l| !l.starts_with("To log in"))
            .collect();
        assert!(
            rows.len() > 10
                && rows
                    .iter()
                    .all(|r| r.chars().count() == rows[0].chars().count())
        );
    }

    #[test]
    fn without_a_terminal_the_text_is_plain_with_the_deadline() {
        let text = render(&prompt(false), false, false, SystemTime::UNIX_EPOCH);
        let plain = anstream::adapter::strip_str(&text).to_string();
        assert_eq!(
            plain,
            "To log in, open https://idp.example.org/device on any device and enter the code WDJB-MJHT\n\
             The code expires in 10 minutes, at 1970-01-01T00:00:00Z.\n"
        );
    }

    #[test]
    fn the_clipboard_needs_a_display_and_no_opt_out() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert!(!clipboard_wanted(env(&[
            (NO_CLIPBOARD, "1"),
            ("DISPLAY", ":0")
        ])));
        assert!(clipboard_wanted(env(&[("DISPLAY", ":0")])));
        if cfg!(all(unix, not(target_os = "macos"))) {
            assert!(!clipboard_wanted(env(&[])));
        }
    }

    #[test]
    fn minutes_round_to_what_the_server_meant() {
        assert_eq!(minutes(Duration::from_secs(599)), "10 minutes");
        assert_eq!(minutes(Duration::from_secs(60)), "1 minute");
        assert_eq!(minutes(Duration::from_secs(42)), "42 s");
    }
}
