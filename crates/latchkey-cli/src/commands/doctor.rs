//! `doctor`: checks a profile end to end and says what to fix.

use std::time::{Duration, SystemTime};

use latchkey::profile::{AuthKind, LoginOptions};

use crate::context::{Ctx, ENV};
use crate::error::CliError;
use crate::output;

#[derive(Default)]
struct Report {
    text: String,
    failed: bool,
    /// The checks for `--json`: `{"check","status","detail","hint"}` each.
    checks: Vec<serde_json::Value>,
}

impl Report {
    fn line(&mut self, status: &str, check: &str, detail: &str, hint: Option<String>) {
        self.checks.push(serde_json::json!({
            "check": check,
            "status": status.to_ascii_lowercase(),
            "detail": detail,
            "hint": hint,
        }));
        self.text
            .push_str(&format!("{status:<5} {check:<13} {detail}\n"));
        if let Some(hint) = hint {
            // A hint may be a list: its lines line up under the first.
            let hint = hint.replace('\n', &format!("\n{:<24}", ""));
            self.text.push_str(&format!("{:<19} hint: {hint}\n", ""));
        }
    }
    fn ok(&mut self, check: &str, detail: impl AsRef<str>) {
        self.line("ok", check, detail.as_ref(), None);
    }
    fn warn(&mut self, check: &str, detail: impl AsRef<str>, hint: impl Into<String>) {
        self.line("warn", check, detail.as_ref(), Some(hint.into()));
    }
    fn fail(&mut self, check: &str, err: impl Into<latchkey::ProfileError>) {
        let err = err.into();
        self.failed = true;
        self.line("FAIL", check, &err.to_string(), err.hint());
    }

    /// Prints the report (text, or the `doctor --json` object); the exit code: 1 when a
    /// check failed.
    fn finish(self, profile: &str, json: bool) -> Result<u8, CliError> {
        if json {
            let shown = serde_json::json!({
                "profile": profile,
                "ok": !self.failed,
                "checks": self.checks,
            });
            output::print(&format!("{shown:#}\n"))?;
        } else {
            output::print(&self.text)?;
        }
        Ok(u8::from(self.failed))
    }
}

/// Runs every check; exit code 1 when one failed.
pub(super) async fn run(ctx: &Ctx, json: bool) -> Result<u8, CliError> {
    let selected = ctx.select()?;
    let p = &selected.profile;
    let mut r = Report::default();
    r.ok(
        "profile",
        format!(
            "`{}` (auth {}) from {}",
            selected.name,
            p.auth,
            ctx.paths.config.display()
        ),
    );
    if p.auth.is_static() {
        match selected.static_auth(ENV).await {
            Ok(_) => r.ok("credentials", "every secret reference resolves"),
            Err(e) => r.fail("credentials", e),
        }
        r.ok("store", "none (fixed credentials)");
        return r.finish(&selected.name, json);
    }

    // The login's preflight: an authorization server must answer (discovery, or the token
    // endpoint for explicit URLs); without one nothing below can work.
    let preflight = match selected.preflight().await {
        Ok(found) => found,
        Err(e) => {
            let check = if p.issuer.is_some() || selected.profile.preset.is_some() {
                "discovery"
            } else {
                "server"
            };
            r.fail(check, e);
            return r.finish(&selected.name, json);
        }
    };
    let (metadata, provider) = (preflight.metadata, preflight.provider);
    let mut present = vec!["token"];
    for (name, set) in [
        ("authorization", metadata.authorization_endpoint.is_some()),
        ("device", metadata.device_authorization_endpoint.is_some()),
        ("revocation", metadata.revocation_endpoint.is_some()),
        ("jwks", metadata.jwks_uri.is_some()),
    ] {
        if set {
            present.push(name);
        }
    }
    let how = if provider.is_some() {
        "discovered"
    } else {
        "configured"
    };
    r.ok(
        "discovery",
        format!(
            "{how} {}: endpoints {}",
            metadata.issuer,
            present.join(", ")
        ),
    );

    if provider.is_none() {
        r.ok("server", preflight.passed.join("; "));
    }

    match provider.as_ref().and_then(|p| p.jwks().cloned()) {
        Some(jwks) => match jwks.refresh().await {
            Ok(()) => r.ok("jwks", format!("{} signing key(s)", jwks.kids().len())),
            Err(e) => r.fail("jwks", e),
        },
        None => r.ok(
            "jwks",
            "not used (no issuer with a jwks_uri: ID tokens are not validated)",
        ),
    }

    clock(&mut r, metadata.token_endpoint.clone()).await;

    if p.auth == AuthKind::AuthorizationCode {
        let configured = selected.redirect_uri().ok().flatten();
        let raw = configured
            .as_deref()
            .unwrap_or("http://127.0.0.1:0/callback");
        match url::Url::parse(raw) {
            Ok(u) if u.scheme() == "http" && latchkey::is_loopback(&u) => r.ok(
                "redirect_uri",
                format!(
                    "{raw} (loopback{})",
                    if u.port() == Some(0) { ", ephemeral port: the client must allow any port" } else { "" }
                ),
            ),
            Ok(_) => r.warn(
                "redirect_uri",
                raw,
                "the CLI receives the login on a loopback address: use http://127.0.0.1:PORT/callback",
            ),
            Err(e) => r.warn("redirect_uri", format!("{raw}: {e}"), "fix `redirect_uri` in the profile"),
        }
    }

    match selected
        .managed(&ctx.paths, ENV, &LoginOptions::default())
        .await
    {
        Ok(managed) => {
            r.ok(
                "client",
                format!("`{}`, secrets resolve", managed.client_id),
            );
            let store = managed.store.describe();
            let state = async {
                let _lock = managed
                    .store
                    .lock(&selected.name, Duration::from_secs(5))
                    .await?;
                managed.store.load(&selected.name).await
            };
            match state.await {
                Ok(Some(t)) if t.access_valid(SystemTime::now(), Duration::ZERO) => r.ok(
                    "store",
                    format!(
                        "{store}: token valid until {}",
                        t.expires_at().map_or("(unknown)".into(), output::rfc3339)
                    ),
                ),
                Ok(Some(t)) => r.ok(
                    "store",
                    format!(
                        "{store}: token expired{}",
                        if t.refresh_token().is_some() {
                            ", refresh token held"
                        } else {
                            ""
                        }
                    ),
                ),
                Ok(None) => r.ok("store", format!("{store}: no token stored yet")),
                Err(e) => r.fail("store", latchkey::Error::from(e)),
            }
        }
        Err(e) => r.fail("client", e),
    }
    r.finish(&selected.name, json)
}

/// Compares our clock with the IdP's `Date` header: a skew beyond the token lifetimes'
/// slack makes fresh tokens look expired (or ID tokens look issued in the future).
async fn clock(r: &mut Report, url: url::Url) {
    let http = match latchkey::http_client() {
        Ok(http) => http,
        Err(e) => return r.fail("clock", e),
    };
    let sent = SystemTime::now();
    let response = match http.head(url.clone()).send().await {
        Ok(response) => response,
        Err(e) => {
            return r.warn(
                "clock",
                format!(
                    "cannot reach {}: {}",
                    latchkey::DisplayUrl::new(&url),
                    output::error_chain(&e.without_url())
                ),
                "check that the identity provider is running and reachable",
            );
        }
    };
    let date = response
        .headers()
        .get(http::header::DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok());
    let Some(date) = date else {
        return r.warn(
            "clock",
            "the IdP sent no Date header",
            "nothing to compare; skipped",
        );
    };
    let (ahead, skew) = match sent.duration_since(date) {
        Ok(d) => (true, d),
        Err(e) => (false, e.duration()),
    };
    // `Date` has one-second resolution: allow that plus the round trip.
    if skew <= Duration::from_secs(30) {
        r.ok(
            "clock",
            format!("skew {} s against the IdP's Date header", skew.as_secs()),
        );
    } else {
        r.warn(
            "clock",
            format!(
                "this machine is {} s {} the IdP",
                skew.as_secs(),
                if ahead { "ahead of" } else { "behind" }
            ),
            "synchronize the clock (timedatectl set-ntp true, chrony)",
        );
    }
}
