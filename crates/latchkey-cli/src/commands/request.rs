//! `request METHOD URL`: one authenticated request, like `gh api`.

use http::HeaderMap;
use latchkey::profile::{LoginOptions, Selected, refusal_hint};
use latchkey::{BearerChallenge, BearerError};
use latchkey_reqwest::AuthMiddleware;
use url::Url;

use crate::context::{Ctx, ENV};
use crate::error::{CliError, code};
use crate::output;
use crate::plan::Request;

/// Sends the request with the profile's credentials, once more after a 401 with renewed
/// ones (OAuth profiles, through the reqwest middleware), prints the body, and fails
/// (exit 1) on a non-2xx status.
pub(super) async fn run(ctx: &Ctx, request: Request) -> Result<u8, CliError> {
    let selected = ctx.select()?;
    let url = resolve_url(&request.target, &selected)?;
    let answer = send(
        ctx,
        &selected,
        Outgoing {
            method: request.method,
            url,
            headers: request.headers.iter().cloned().collect(),
            body: request.body,
            allow_other_host: request.allow_other_host,
        },
    )
    .await?;
    output::print_bytes(&answer.body)?;
    if !answer.body.is_empty()
        && !answer.body.ends_with(b"\n")
        && std::io::IsTerminal::is_terminal(&std::io::stdout())
    {
        output::print("\n")?;
    }
    if answer.status.is_success() {
        Ok(0)
    } else {
        Err(failure(&answer, &selected))
    }
}

/// `target` as a URL: absolute as given, relative joined to the profile's `base_url`.
pub(super) fn resolve_url(target: &str, selected: &Selected) -> Result<Url, CliError> {
    match Url::parse(target) {
        Ok(url) => Ok(url),
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            let base = selected.profile.base_url.as_deref().ok_or_else(|| {
                CliError::usage(format!(
                    "`{target}` is relative and profile `{}` has no base_url",
                    selected.name
                ))
                .with_hint("pass a full URL, or add `base_url = \"https://…\"` to the profile")
            })?;
            // A base without a trailing slash would lose its last segment in `join`.
            let base = Url::parse(&format!("{}/", base.trim_end_matches('/'))).map_err(|e| {
                CliError::usage(format!("the profile's base_url is not a URL: {e}"))
            })?;
            base.join(target.trim_start_matches('/'))
                .map_err(|e| CliError::usage(format!("cannot join `{target}` to {base}: {e}")))
        }
        Err(e) => Err(CliError::usage(format!("`{target}` is not a URL: {e}"))),
    }
}

/// A request to send with a profile's credentials.
pub(super) struct Outgoing {
    pub method: http::Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<Vec<u8>>,
    /// The URL may leave the origin of the profile's base_url.
    pub allow_other_host: bool,
}

/// What the server answered.
pub(super) struct Answer {
    pub status: http::StatusCode,
    /// The Bearer challenge of a refusal, when there was one.
    pub challenge: Option<BearerChallenge>,
    pub body: Vec<u8>,
}

/// Sends `out` with the profile's credentials: the destination is checked first, and the
/// reqwest middleware applies the credentials and owns the 401 policy (renew once, retry
/// once, unless the challenge says a new token cannot help), as for library users.
pub(super) async fn send(
    ctx: &Ctx,
    selected: &Selected,
    out: Outgoing,
) -> Result<Answer, CliError> {
    let url = out.url;
    check_destination(&url, selected, out.allow_other_host)?;
    let auth = selected
        .authenticate(&ctx.paths, ENV, &LoginOptions::default())
        .await?;
    let http = reqwest_middleware::ClientBuilder::new(latchkey::http_client()?)
        .with(AuthMiddleware::from_arc(auth.authenticator()))
        .build();
    let mut builder = http.request(out.method, url.clone()).headers(out.headers);
    if let Some(body) = out.body {
        builder = builder.body(body);
    }
    let response = builder.send().await.map_err(|err| match err {
        reqwest_middleware::Error::Middleware(err) => match err.downcast::<latchkey::Error>() {
            Ok(err) => CliError::from(err),
            Err(other) => CliError::new(code::OTHER, other.to_string()),
        },
        reqwest_middleware::Error::Reqwest(e) => CliError::new(
            code::NETWORK,
            format!(
                "request to {} failed: {}",
                latchkey::DisplayUrl::new(&url),
                output::error_chain(&e.without_url())
            ),
        )
        .with_hint("check the URL and your network"),
    })?;
    let status = response.status();
    let challenge = BearerChallenge::from_headers(response.headers());
    let body = response.bytes().await.map_err(|e| {
        CliError::new(
            code::NETWORK,
            format!(
                "reading the response failed: {}",
                output::error_chain(&e.without_url())
            ),
        )
    })?;
    Ok(Answer {
        status,
        challenge,
        body: body.to_vec(),
    })
}

/// The error for a non-2xx answer (exit 1); a 401 or 403 says what the user can change.
pub(super) fn failure(answer: &Answer, selected: &Selected) -> CliError {
    let status = answer.status;
    let refused = status == http::StatusCode::UNAUTHORIZED || status == http::StatusCode::FORBIDDEN;
    match answer.challenge.as_ref().filter(|_| refused) {
        Some(challenge) => refusal(status, challenge, selected),
        None if refused => CliError::new(code::OTHER, format!("the server answered HTTP {status}"))
            .with_hint(refusal_hint(selected, None).unwrap_or_else(|| {
                format!(
                    "check that profile `{}` may access this resource (`latchkey status`)",
                    selected.name
                )
            })),
        None => CliError::new(code::OTHER, format!("the server answered HTTP {status}")),
    }
}

/// Refuses to send the profile's credentials where they do not belong: over plain http to
/// another host than loopback (always: anyone on the path reads them), and, when the profile
/// has a `base_url`, to another origin than its own unless `allow_other_host`.
fn check_destination(
    url: &Url,
    selected: &Selected,
    allow_other_host: bool,
) -> Result<(), CliError> {
    let origin = url.origin().ascii_serialization();
    match url.scheme() {
        "https" => {}
        "http" if latchkey::is_loopback(url) => {}
        "http" => {
            return Err(CliError::usage(format!(
                "refusing to send profile `{}`'s credentials over plain http to {origin}",
                selected.name
            ))
            .with_hint(
                "use https (plain http is allowed only to 127.0.0.1, [::1] and localhost)",
            ));
        }
        other => {
            return Err(CliError::usage(format!(
                "`{other}:` URLs are not supported; `request` speaks http(s)"
            )));
        }
    }
    let Some(base_url) = selected.profile.base_url.as_deref() else {
        return Ok(());
    };
    let ours = Url::parse(base_url)
        .map_err(|e| CliError::usage(format!("the profile's base_url is not a URL: {e}")))?;
    if allow_other_host || url.origin() == ours.origin() {
        return Ok(());
    }
    Err(CliError::usage(format!(
        "refusing to send profile `{}`'s credentials to {origin}: its base_url is on {}",
        selected.name,
        ours.origin().ascii_serialization()
    ))
    .with_hint(
        "pass --allow-other-host if this host should get them, or use a URL relative to \
         the base_url",
    ))
}

/// The error for a 401/403 that carries a Bearer challenge: what the server said, and what
/// the user can do about it.
fn refusal(status: http::StatusCode, challenge: &BearerChallenge, selected: &Selected) -> CliError {
    let profile = selected.name.as_str();
    let mut message = format!("the server answered HTTP {status}");
    if let Some(error) = &challenge.error {
        message.push_str(&format!(": {}", error.as_str()));
    }
    if let Some(description) = &challenge.error_description {
        message.push_str(&format!(" ({description})"));
    }
    // What the server's own words identify comes first (DHIS2's error descriptions).
    let known = refusal_hint(selected, Some(challenge));
    let hint = known.unwrap_or_else(|| match &challenge.error {
        Some(BearerError::InsufficientScope) if !challenge.scope.is_empty() => format!(
            "the resource needs scope `{}`: add it to profile `{profile}`'s scopes, then \
             `latchkey login`",
            challenge.scope.join(" ")
        ),
        Some(BearerError::InsufficientScope) => format!(
            "the token lacks a scope this resource needs: check profile `{profile}`'s scopes"
        ),
        Some(BearerError::InsufficientUserAuthentication) => {
            let mut needs = Vec::new();
            if !challenge.acr_values.is_empty() {
                needs.push(format!("acr_values `{}`", challenge.acr_values.join(" ")));
            }
            if let Some(max_age) = challenge.max_age {
                needs.push(format!("a sign-in within {max_age} s"));
            }
            let needs = if needs.is_empty() {
                String::new()
            } else {
                format!(" (the resource asks for {})", needs.join(" and "))
            };
            format!("sign in again, more strongly or more recently: `latchkey login`{needs}")
        }
        _ => format!("check that profile `{profile}` may access this resource (`latchkey status`)"),
    });
    CliError::new(code::OTHER, message).with_hint(hint)
}
