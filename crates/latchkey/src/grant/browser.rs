//! Getting the user to the identity provider and back: opening a browser, or showing the
//! URL, or handing the whole round trip to a [`RedirectCapturer`].

use std::fmt;
use std::future::Future;
use std::io::Write as _;
use std::sync::Arc;

use async_trait::async_trait;
use url::Url;

use crate::error::Result;

/// Replaces the loopback receiver: sends the user to `authorization_url` by any means and
/// returns the URL the identity provider redirected to, query included (the seeds'
/// `redirect_capturer`, e.g. an embedded web view or a test driver).
///
/// The grant checks the returned URL's `state`, `iss` and `error` itself, so a capturer
/// cannot forget to. Closures `Fn(Url, Url) -> impl Future<Output = Result<Url>>` taking
/// the authorization URL and the redirect URI implement this trait.
#[async_trait]
pub trait RedirectCapturer: Send + Sync {
    /// Runs the browser part of the login and returns the redirect URL.
    async fn capture(&self, authorization_url: Url, redirect_uri: Url) -> Result<Url>;
}

#[async_trait]
impl<F, Fut> RedirectCapturer for F
where
    F: Fn(Url, Url) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Url>> + Send,
{
    async fn capture(&self, authorization_url: Url, redirect_uri: Url) -> Result<Url> {
        self(authorization_url, redirect_uri).await
    }
}

/// Shows the authorization URL to the user: the default opens a browser when one is
/// usable and always writes the URL to stderr (a library never writes to stdout).
pub type UrlOpener = Arc<dyn Fn(&Url) + Send + Sync>;

/// Whether to try opening a browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BrowserMode {
    /// Open one unless an SSH session or (on Linux and the BSDs) no display is detected;
    /// there, a `$BROWSER` wins over both checks.
    #[default]
    Auto,
    /// Never: only show the URL (`--no-browser`).
    Never,
}

impl BrowserMode {
    /// Whether a browser can be opened here, reading the platform's session variables
    /// (`SSH_CONNECTION`, `SSH_TTY`, `DISPLAY`, `WAYLAND_DISPLAY`, and on Linux and the
    /// BSDs `BROWSER`) through `var`.
    pub fn can_open(self, var: impl Fn(&str) -> Option<String>) -> bool {
        browser_usable(self, var)
    }
}

fn browser_usable(mode: BrowserMode, var: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    if mode == BrowserMode::Never {
        return false;
    }
    let unix_desktop = cfg!(all(unix, not(target_os = "macos")));
    // The program `$BROWSER` names runs on this machine (a text browser such as w3m, or a
    // remote editor's helper that forwards the URL and the port), so it reaches our
    // loopback with no display and over SSH. `webbrowser` honours it on these systems only.
    if unix_desktop && set("BROWSER") {
        return true;
    }
    // A browser opened on the far end of an SSH session could never reach our loopback.
    if set("SSH_CONNECTION") || set("SSH_TTY") {
        return false;
    }
    if unix_desktop {
        return set("DISPLAY") || set("WAYLAND_DISPLAY");
    }
    true
}

/// The default [`UrlOpener`] for `mode`.
pub(crate) fn default_opener(mode: BrowserMode) -> UrlOpener {
    Arc::new(move |url: &Url| {
        let opened = mode.can_open(|name| std::env::var(name).ok())
            && match webbrowser::open(url.as_str()) {
                Ok(()) => true,
                Err(err) => {
                    tracing::debug!(error = %err, "could not open a browser");
                    false
                }
            };
        let mut stderr = std::io::stderr().lock();
        // Writing to a closed stderr must not abort the login.
        let _ = if opened {
            writeln!(
                stderr,
                "Opened your browser to log in. If it did not open, visit:\n\n    {url}\n"
            )
        } else {
            writeln!(
                stderr,
                "To log in, open this URL in a browser:\n\n    {url}\n"
            )
        };
    })
}

/// A `Debug` stand-in for callbacks.
pub(crate) struct Callback(pub(crate) &'static str);

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn never_and_ssh_disable_the_browser() {
        let display = [("DISPLAY", ":0")];
        assert!(!browser_usable(BrowserMode::Never, env(&display)));
        assert!(!browser_usable(
            BrowserMode::Auto,
            env(&[
                ("DISPLAY", ":0"),
                ("SSH_CONNECTION", "10.0.0.1 5 10.0.0.2 22")
            ])
        ));
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn linux_needs_a_display() {
        assert!(!browser_usable(BrowserMode::Auto, env(&[])));
        assert!(browser_usable(BrowserMode::Auto, env(&[("DISPLAY", ":0")])));
        assert!(browser_usable(
            BrowserMode::Auto,
            env(&[("WAYLAND_DISPLAY", "wayland-0")])
        ));
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn a_browser_variable_opens_without_a_display_but_not_when_told_never() {
        assert!(browser_usable(
            BrowserMode::Auto,
            env(&[("BROWSER", "w3m")])
        ));
        assert!(browser_usable(
            BrowserMode::Auto,
            env(&[("BROWSER", "w3m"), ("SSH_TTY", "/dev/pts/1")])
        ));
        assert!(!browser_usable(BrowserMode::Auto, env(&[("BROWSER", "")])));
        assert!(!browser_usable(
            BrowserMode::Never,
            env(&[("BROWSER", "w3m")])
        ));
    }
}
