//! The pure parsers of the command line's untrusted text: `-H` header arguments, the `-d`
//! body argument, and git's credential helper request. They depend on `std` and `http` only,
//! so the fuzz targets in `fuzz/` include this file as it is (`#[path]`).

use std::io::BufRead;

use http::{HeaderName, HeaderValue};

/// Parses a `-H` argument, `Name: value` (the value trimmed, as curl does); the error says
/// which part is wrong.
pub(crate) fn header_argument(raw: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = raw
        .split_once(':')
        .ok_or_else(|| format!("header `{raw}` is not `Name: value`"))?;
    let name = HeaderName::try_from(name.trim())
        .map_err(|_| format!("`{}` is not a header name", name.trim()))?;
    let value = HeaderValue::try_from(value.trim())
        .map_err(|_| format!("the value of header `{name}` is not valid"))?;
    Ok((name, value))
}

/// Where a `-d` argument's body comes from, as curl reads it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodySource<'a> {
    /// `@-`: standard input.
    Stdin,
    /// `@path`: that file.
    File(&'a str),
    /// Anything else: the argument itself.
    Text(&'a str),
}

/// Reads a `-d` argument.
pub(crate) fn body_source(arg: &str) -> BodySource<'_> {
    match arg {
        "@-" => BodySource::Stdin,
        _ => match arg.strip_prefix('@') {
            Some(path) => BodySource::File(path),
            None => BodySource::Text(arg),
        },
    }
}

/// Reads git's credential helper request (`gitcredentials(7)`): `key=value` lines up to a
/// blank line or the end of input. Lines without `=` are skipped, as git itself does.
pub(crate) fn git_request(reader: impl BufRead) -> std::io::Result<Vec<(String, String)>> {
    let mut request = Vec::new();
    for line in reader.lines() {
        let line = line?;
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once('=') {
            request.push((k.to_owned(), v.to_owned()));
        }
    }
    Ok(request)
}

/// Whether git's request (`protocol`, `host` with an optional port) names exactly the origin of
/// `base_url` over a transport that keeps the token private; else why not.
pub(crate) fn git_origin_matches(
    request: &[(String, String)],
    base_url: Option<&str>,
) -> Result<(), String> {
    let field = |key: &str| {
        request
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let Some(base_url) = base_url else {
        return Err("it has no base_url naming the host to answer for \
                    (set it with `latchkey profile set NAME base_url https://git.example.org`)"
            .into());
    };
    let ours = url::Url::parse(base_url)
        .map_err(|e| format!("its base_url `{base_url}` is not a URL ({e})"))?;
    let ours_origin = ours.origin().ascii_serialization();
    let Some(host) = field("host").filter(|h| !h.is_empty()) else {
        return Err(format!(
            "git's request names no host (it answers for {ours_origin} only)"
        ));
    };
    let protocol = field("protocol").unwrap_or_default();
    if protocol != "https" && protocol != "http" {
        return Err(format!(
            "git asked over `{protocol}`, and it answers https (or http to loopback) only"
        ));
    }
    // Only host[:port] may follow the scheme: no user info, path or query smuggled in.
    if host.contains(['/', '?', '#', '@', '\\']) {
        return Err(format!("git asked for a malformed host `{host}`"));
    }
    let asked = url::Url::parse(&format!("{protocol}://{host}/"))
        .map_err(|e| format!("git asked for a malformed host `{host}` ({e})"))?;
    let asked_origin = asked.origin().ascii_serialization();
    if asked.scheme() == "http" && !latchkey::is_loopback(&asked) {
        return Err(format!(
            "git asked for {asked_origin} over plain http, which would send the token in \
             clear text (http is answered for loopback hosts only)"
        ));
    }
    if asked.origin() != ours.origin() {
        return Err(format!(
            "git asked for {asked_origin}, and it answers for {ours_origin} only"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_bodies_and_git_requests() {
        let (name, value) = header_argument("X-Trace :  abc ").unwrap();
        assert_eq!((name.as_str(), value.to_str().unwrap()), ("x-trace", "abc"));
        assert!(
            header_argument("no colon")
                .unwrap_err()
                .contains("Name: value")
        );
        assert!(
            header_argument("bad name: x")
                .unwrap_err()
                .contains("header name")
        );
        assert_eq!(body_source("@-"), BodySource::Stdin);
        assert_eq!(body_source("@a.json"), BodySource::File("a.json"));
        assert_eq!(body_source("a=b"), BodySource::Text("a=b"));
        let input = "protocol=https\nhost=example.com:8443\nnoise\npath=a=b\n\nhost=other\n";
        let request = git_request(input.as_bytes()).unwrap();
        assert_eq!(request.len(), 3);
        assert_eq!(request[2], ("path".into(), "a=b".into()));
        assert!(git_origin_matches(&request, Some("https://example.com:8443/api")).is_ok());
        assert!(git_origin_matches(&request, Some("https://example.com/")).is_err());
        assert!(git_origin_matches(&request, None).is_err());
    }
}
