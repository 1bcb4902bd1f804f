//! Every `LATCHKEY_*` environment variable, in one registry: the library below this layer
//! reads none of them.

use crate::grant::BrowserMode;

/// The profiles file (default `<XDG config dir>/latchkey/profiles.toml`).
pub const CONFIG: &str = "LATCHKEY_CONFIG";
/// The token state directory (default `<XDG state dir>/latchkey`).
pub const STATE_DIR: &str = "LATCHKEY_STATE_DIR";
/// The profile to use when `--profile` is not given.
pub const PROFILE: &str = "LATCHKEY_PROFILE";
/// The API of the env-only profile.
pub const URL: &str = "LATCHKEY_URL";
/// The env-only profile's token (`Bearer`, or DHIS2 `ApiToken` with [`AUTH`]).
pub const TOKEN: &str = "LATCHKEY_TOKEN";
/// The env-only profile's kind for [`TOKEN`]: `bearer` (default) or `api-token`.
pub const AUTH: &str = "LATCHKEY_AUTH";
/// The env-only profile's Basic (or password grant) user name.
pub const USERNAME: &str = "LATCHKEY_USERNAME";
/// The env-only profile's Basic password.
pub const PASSWORD: &str = "LATCHKEY_PASSWORD";
/// The env-only OAuth profile's issuer (OIDC discovery).
pub const ISSUER: &str = "LATCHKEY_ISSUER";
/// The env-only OAuth profile's token endpoint, instead of discovery.
pub const TOKEN_URL: &str = "LATCHKEY_TOKEN_URL";
/// The env-only OAuth profile's client id.
pub const CLIENT_ID: &str = "LATCHKEY_CLIENT_ID";
/// The env-only OAuth profile's client secret.
pub const CLIENT_SECRET: &str = "LATCHKEY_CLIENT_SECRET";
/// The env-only OAuth profile's client authentication (`client_secret_basic`, …).
pub const CLIENT_AUTH: &str = "LATCHKEY_CLIENT_AUTH";
/// The env-only OAuth profile's grant (default `client-credentials`).
pub const GRANT: &str = "LATCHKEY_GRANT";
/// The env-only OAuth profile's scopes, separated by spaces or commas.
pub const SCOPES: &str = "LATCHKEY_SCOPES";
/// The env-only OAuth profile's refresh token (grant `refresh-token`).
pub const REFRESH_TOKEN: &str = "LATCHKEY_REFRESH_TOKEN";
/// The env-only profile's token store (default `memory`).
pub const STORE: &str = "LATCHKEY_STORE";
/// `1`, `true` or `yes`: never open a browser for a login, only show the URL.
pub const NO_BROWSER: &str = "LATCHKEY_NO_BROWSER";
/// Set by `latchkey exec` for the child: the `Authorization` header value.
pub const AUTHORIZATION: &str = "LATCHKEY_AUTHORIZATION";

/// Every variable with its meaning, for help texts and docs.
pub const ALL: [(&str, &str); 19] = [
    (CONFIG, "the profiles file"),
    (STATE_DIR, "the token state directory"),
    (PROFILE, "the profile to use"),
    (URL, "the API of the env-only profile"),
    (
        TOKEN,
        "the env-only profile's token; set by `exec` for the child",
    ),
    (
        AUTH,
        "the env-only profile's token kind: bearer or api-token",
    ),
    (USERNAME, "the env-only profile's Basic user name"),
    (
        PASSWORD,
        "the env-only profile's Basic or password-grant password",
    ),
    (ISSUER, "the env-only OAuth profile's issuer (discovery)"),
    (TOKEN_URL, "the env-only OAuth profile's token endpoint"),
    (CLIENT_ID, "the env-only OAuth profile's client id"),
    (CLIENT_SECRET, "the env-only OAuth profile's client secret"),
    (
        CLIENT_AUTH,
        "the env-only OAuth profile's client authentication",
    ),
    (
        GRANT,
        "the env-only OAuth profile's grant (default client-credentials)",
    ),
    (SCOPES, "the env-only OAuth profile's scopes"),
    (REFRESH_TOKEN, "the env-only OAuth profile's refresh token"),
    (STORE, "the env-only profile's token store (default memory)"),
    (NO_BROWSER, "1: never open a browser for a login"),
    (
        AUTHORIZATION,
        "set by `exec` for the child: the Authorization header",
    ),
];

/// The browser mode for a login: [`BrowserMode::Never`] with `--no-browser` or
/// [`NO_BROWSER`] set to `1`, `true` or `yes`.
pub fn browser_mode(no_browser_flag: bool, env: &dyn Fn(&str) -> Option<String>) -> BrowserMode {
    let opted_out = env(NO_BROWSER).is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
    if no_browser_flag || opted_out {
        BrowserMode::Never
    } else {
        BrowserMode::Auto
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_or_the_opt_out_disable_the_browser() {
        let none = |_: &str| None;
        let opted_out = |name: &str| (name == NO_BROWSER).then(|| "1".to_owned());
        assert_eq!(browser_mode(false, &none), BrowserMode::Auto);
        assert_eq!(browser_mode(true, &none), BrowserMode::Never);
        assert_eq!(browser_mode(false, &opted_out), BrowserMode::Never);
        let display = |name: &str| (name == "DISPLAY").then(|| ":0".to_owned());
        assert!(!browser_mode(false, &opted_out).can_open(display));
    }

    #[test]
    fn every_variable_is_listed_once() {
        let mut names: Vec<_> = ALL.iter().map(|(name, _)| *name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert!(names.iter().all(|n| n.starts_with("LATCHKEY_")));
    }
}
