//! The hook that tells an embedder the browser part of a login is over, so a desktop
//! application can close the window or web view it opened for it.

use std::fmt;
use std::sync::Arc;

/// How the browser part of a loopback login ended, as passed to a [`CloseHook`].
///
/// `CodeReceived` means the redirect brought a code and the success page was served; the
/// code is exchanged (and the ID token checked) *after* the hook runs, so the login itself
/// may still fail: the grant's result says whether it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginOutcome {
    /// The redirect carried a code; the success page was served.
    CodeReceived,
    /// The redirect carried an error (the provider's or a malformed answer); the error page
    /// was served.
    Refused,
    /// No redirect for this login arrived in time; nothing was served.
    TimedOut,
}

/// Called once per loopback login, after the redirect was answered (or the wait timed
/// out): pywry's `close_window`. It runs on the receiver's task, so it must return quickly;
/// spawn a task or send on a channel for anything slow.
pub type CloseHook = Arc<dyn Fn(LoginOutcome) + Send + Sync>;

/// Runs the hook, if any, with `outcome`.
pub(crate) fn notify(hook: Option<&CloseHook>, outcome: LoginOutcome) {
    if let Some(hook) = hook {
        hook(outcome);
    }
}

/// A `Debug` stand-in for an optional hook.
pub(crate) struct HookSet(pub(crate) bool);

impl fmt::Debug for HookSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0 { "Some(CloseHook)" } else { "None" })
    }
}
