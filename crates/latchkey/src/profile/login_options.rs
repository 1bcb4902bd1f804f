//! How a profile's login behaves (browser, device flow, prompts, one-time code, resource,
//! step-up) and where its environment variables come from: the inputs every part of a
//! profile's resolution reads.

use std::fmt;
use std::sync::Arc;

use secrecy::SecretString;
use url::Url;

use crate::grant::{BrowserMode, DevicePrompt};
use crate::resource::Resource;
use crate::step_up::StepUp;

/// Reads environment variables (the process environment in the CLI, a map in tests).
pub(crate) type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);
type PromptFn = Arc<dyn Fn(&DevicePrompt) + Send + Sync>;
type UrlFn = Arc<dyn Fn(&Url) + Send + Sync>;

/// How interactive grants should behave; the defaults suit unattended use.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct LoginOptions {
    /// Whether to open a browser for authorization-code logins.
    pub browser: BrowserMode,
    /// Use the device flow even for an `authorization-code` profile (`login --device`).
    pub device: bool,
    /// Shows the device flow's URL and code (default: the library's stderr prompt).
    pub on_device_prompt: Option<PromptFn>,
    /// Shows the browser login URL (default: open a browser and print it to stderr).
    pub on_authorization_url: Option<UrlFn>,
    /// A one-time code for a `password` profile whose account has two-factor login (sent as
    /// `totp`, Keycloak style). Other profiles refuse it.
    pub totp: Option<SecretString>,
    /// The resource (RFC 8707) to get tokens for instead of the profile's first one
    /// (`--resource`): its tokens are kept under their own store key next to the profile's.
    /// For a browser or device profile they come from the profile's refresh token, so the
    /// profile's `resource` list must name it for the login to ask for it.
    pub resource: Option<Resource>,
    /// Ask the login for this sign-in (RFC 9470 step-up: `login --acr-values --max-age`);
    /// browser logins only.
    pub step_up: Option<StepUp>,
}

impl fmt::Debug for LoginOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginOptions")
            .field("browser", &self.browser)
            .field("device", &self.device)
            .field("totp", &self.totp.as_ref().map(|_| "[REDACTED]"))
            .field("resource", &self.resource)
            .field("step_up", &self.step_up)
            .finish_non_exhaustive()
    }
}
