//! `request METHOD URL`: one authenticated request, like `gh api`.

use http::HeaderMap;
use latchkey::profile::{LoginOptions, Selected, refusal_hint};
use latchkey::{BearerChallenge, BearerError};
use latchkey_reqwest::AuthMiddleware;
use serde_json::Value;
use url::Url;

use crate::context::{Ctx, ENV};
use crate::error::{CliError, code};
use crate::output;
use crate::plan::{Request, Show};

/// Sends the request with the profile's credentials, once more after a 401 with renewed
/// ones (OAuth profiles, through the reqwest middleware), prints the answer as asked (body,
/// `-i`, `--json`, `-o FILE`, `--paginate`), and fails (exit 1) on a non-2xx status.
pub(super) async fn run(ctx: &Ctx, request: Request) -> Result<u8, CliError> {
    let selected = ctx.select()?;
    let url = resolve_url(&request.target, &selected)?;
    let outgoing = Outgoing {
        method: request.method,
        url,
        headers: request.headers.iter().cloned().collect(),
        body: request.body,
        allow_other_host: request.allow_other_host,
        resource: request.resource,
    };
    if let Some(max_pages) = request.paginate {
        return paginate(
            ctx,
            &selected,
            outgoing,
            max_pages,
            request.output.as_deref(),
        )
        .await;
    }
    let mut answer = send(ctx, &selected, outgoing.clone()).await?;
    // RFC 9470: a stronger or more recent sign-in is needed. A person here may log in again
    // (once) and the request is repeated; elsewhere the error says how.
    if answer.status == http::StatusCode::UNAUTHORIZED
        && let Some(step_up) = answer
            .challenge
            .as_ref()
            .and_then(latchkey::StepUp::from_challenge)
    {
        super::step_up::log_in_again(ctx, &selected, &step_up).await?;
        answer = send(ctx, &selected, outgoing).await?;
    }
    match request.show {
        Show::Json => output::print(&format!("{}\n", json_json(&json_answer(&answer))))?,
        Show::Include => {
            output::print(&head(&answer))?;
            if request.output.is_none() {
                output::print("\n")?;
            }
        }
        Show::Body => {}
    }
    if request.show != Show::Json {
        match &request.output {
            Some(path) => write_file(path, &answer.body)?,
            None => print_body(&answer.body)?,
        }
    }
    if answer.status.is_success() {
        Ok(0)
    } else {
        Err(failure(&answer, &selected))
    }
}

/// The body on stdout: JSON pretty-printed for a person at a terminal, as received otherwise.
fn print_body(body: &[u8]) -> Result<(), CliError> {
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    if terminal && let Ok(json) = serde_json::from_slice::<Value>(body) {
        return output::print(&format!("{json:#}\n"));
    }
    output::print_bytes(body)?;
    if !body.is_empty() && !body.ends_with(b"\n") && terminal {
        output::print("\n")?;
    }
    Ok(())
}

/// JSON made by latchkey: pretty at a terminal, one line in a pipe.
fn json_json(value: &Value) -> String {
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        format!("{value:#}")
    } else {
        value.to_string()
    }
}

/// `-i`: the status line and the headers, as curl shows them.
fn head(answer: &Answer) -> String {
    let mut text = format!("{:?} {}\n", answer.version, answer.status);
    for (name, value) in &answer.headers {
        text.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    text
}

/// `--json`: `{"status": 200, "headers": {"name": "value"}, "body": …}`. Header names are
/// lower case, repeated headers joined with `, `; the body is its JSON when it is JSON, else
/// its text, `null` when empty.
fn json_answer(answer: &Answer) -> Value {
    let mut headers = serde_json::Map::new();
    for name in answer.headers.keys() {
        let joined = answer
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        headers.insert(name.as_str().to_owned(), Value::String(joined));
    }
    let body = if answer.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&answer.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&answer.body).into_owned()))
    };
    serde_json::json!({
        "status": answer.status.as_u16(),
        "headers": headers,
        "body": body,
    })
}

/// `-o FILE`: the body replaces FILE's content, as with curl. A response body is the user's
/// data, not a secret: the file gets the usual permissions, not latchkey's owner-only ones.
#[expect(
    clippy::disallowed_methods,
    reason = "latchkey's fs helpers make owner-only files for secrets; this is the user's output"
)]
fn write_file(path: &std::path::Path, body: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, body).map_err(|e| {
        CliError::new(
            code::OTHER,
            format!("cannot write the response body to {}: {e}", path.display()),
        )
    })
}

/// `--paginate`: the first answer's JSON array, then each `rel="next"` page's, as one array;
/// the next link must stay on the first URL's origin (the credentials go with it).
async fn paginate(
    ctx: &Ctx,
    selected: &Selected,
    first: Outgoing,
    max_pages: u32,
    output: Option<&std::path::Path>,
) -> Result<u8, CliError> {
    let origin = first.url.origin();
    let (headers, allow_other_host) = (first.headers.clone(), first.allow_other_host);
    let resource = first.resource.clone();
    let mut items = Vec::new();
    let mut next = Some(first);
    let mut pages = 0;
    while let Some(out) = next.take() {
        let url = out.url.clone();
        let answer = send(ctx, selected, out).await?;
        pages += 1;
        if !answer.status.is_success() {
            print_body(&answer.body)?;
            return Err(failure(&answer, selected));
        }
        match serde_json::from_slice::<Value>(&answer.body) {
            Ok(Value::Array(page)) => items.extend(page),
            _ => {
                return Err(CliError::new(
                    code::OTHER,
                    format!(
                        "page {pages} ({}) is not a JSON array; --paginate joins arrays",
                        latchkey::DisplayUrl::new(&url)
                    ),
                )
                .with_hint("leave out --paginate to see the answer as it is"));
            }
        }
        let Some(link) = crate::link::next(&answer.headers) else {
            break;
        };
        let to = url.join(&link).map_err(|e| {
            CliError::new(
                code::OTHER,
                format!("page {pages}'s next link `{link}` is not a URL: {e}"),
            )
        })?;
        if to.origin() != origin {
            return Err(CliError::new(
                code::OTHER,
                format!(
                    "page {pages}'s next link leads to {}, another origin than {}",
                    to.origin().ascii_serialization(),
                    origin.ascii_serialization()
                ),
            )
            .with_hint("--paginate follows next links on the first URL's origin only"));
        }
        if pages >= max_pages {
            tracing::warn!(
                "stopped after {pages} pages; more remain (raise --max-pages to fetch them)"
            );
            break;
        }
        next = Some(Outgoing {
            method: http::Method::GET,
            url: to,
            headers: headers.clone(),
            body: None,
            allow_other_host,
            resource: resource.clone(),
        });
    }
    let merged = Value::Array(items);
    match output {
        Some(path) => write_file(path, format!("{merged}\n").as_bytes())?,
        None => output::print(&format!("{}\n", json_json(&merged)))?,
    }
    Ok(0)
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
                .with_hint(format!(
                    "pass a full URL, or set it with `latchkey profile set {} base_url https://…`",
                    selected.name
                ))
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
#[derive(Clone)]
pub(super) struct Outgoing {
    pub method: http::Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<Vec<u8>>,
    /// The URL may leave the origin of the profile's base_url.
    pub allow_other_host: bool,
    /// `--resource`: a token for this resource (RFC 8707) instead of the profile's first.
    pub resource: Option<latchkey::Resource>,
}

/// What the server answered.
pub(super) struct Answer {
    pub status: http::StatusCode,
    /// The HTTP version the server answered with (for `-i`).
    pub version: http::Version,
    pub headers: HeaderMap,
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
    let mut options = LoginOptions::default();
    options.resource = out.resource;
    let auth = selected.authenticate(&ctx.paths, ENV, &options).await?;
    // The profile's client certificate, when it has one: a certificate-bound token
    // (RFC 8705 §3) is accepted only over the certificate it was issued to.
    let base = selected
        .http_client_builder()?
        .build()
        .map_err(|e| latchkey::Error::Config(format!("cannot build the HTTP client: {e}")))?;
    let http = reqwest_middleware::ClientBuilder::new(base)
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
    let version = response.version();
    let headers = response.headers().clone();
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
        version,
        headers,
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
