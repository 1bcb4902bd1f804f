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

/// The `host` git asks about (`host` or `host:port`), if it named one.
pub(crate) fn asked_host(request: &[(String, String)]) -> Option<&str> {
    request
        .iter()
        .find(|(k, _)| k == "host")
        .map(|(_, v)| v.as_str())
}

/// The `host[:port]` of a profile's `base_url`, in the form git names hosts.
pub(crate) fn profile_host(base_url: &str) -> Option<String> {
    let url = url::Url::parse(base_url).ok()?;
    let host = url.host_str()?;
    Some(
        url.port()
            .map_or(host.to_owned(), |p| format!("{host}:{p}")),
    )
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
        assert_eq!(asked_host(&request), Some("example.com:8443"));
        assert_eq!(
            profile_host("https://example.com:8443/api").as_deref(),
            Some("example.com:8443")
        );
        assert_eq!(
            profile_host("https://example.com/").as_deref(),
            Some("example.com")
        );
    }
}
