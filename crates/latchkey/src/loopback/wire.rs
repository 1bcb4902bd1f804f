//! The HTTP/1.1 the receiver speaks: one request head in (capped), one page out.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::MAX_REQUEST_BYTES;

/// What the receiver reads of a request head.
pub(super) struct Head {
    pub(super) target: String,
    /// The `Host` header; `None` when absent or given more than once.
    pub(super) host: Option<String>,
}

pub(super) enum Rejection {
    BadRequest,
    Method,
    Closed,
}

/// Reads one request head.
pub(super) async fn read_request(stream: &mut TcpStream) -> std::result::Result<Head, Rejection> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| Rejection::Closed)?;
        if n == 0 {
            return Err(Rejection::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(head) = parse_head(&buf)? {
            return Ok(head);
        }
    }
}

/// Parses a request head: its target and host once complete, `None` while more bytes may
/// follow.
pub(super) fn parse_head(buf: &[u8]) -> std::result::Result<Option<Head>, Rejection> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buf) {
        Ok(httparse::Status::Complete(_)) => {
            if request.method != Some("GET") {
                return Err(Rejection::Method);
            }
            let target = request.path.ok_or(Rejection::BadRequest)?.to_owned();
            let mut hosts = request
                .headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("host"));
            // RFC 9112 §3.2: a request with more than one Host is answered 400, as is a
            // value that is not text.
            let host = match (hosts.next(), hosts.next()) {
                (Some(h), None) => std::str::from_utf8(h.value)
                    .ok()
                    .map(|v| v.trim().to_owned()),
                _ => None,
            };
            Ok(Some(Head { target, host }))
        }
        Ok(httparse::Status::Partial) if buf.len() < MAX_REQUEST_BYTES => Ok(None),
        Ok(httparse::Status::Partial) | Err(_) => Err(Rejection::BadRequest),
    }
}

pub(super) async fn respond(stream: &mut TcpStream, status: u16, body: &str, csp: &str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    };
    // no-referrer: the page must never pass the redirect URL (with its code) anywhere; the
    // policy lets nothing run and nothing load but the page's own style (and logo).
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nContent-Security-Policy: {csp}\r\nCache-Control: no-store\r\n\
         Referrer-Policy: no-referrer\r\nX-Content-Type-Options: nosniff\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let written = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    };
    if let Err(err) = written.await {
        tracing::debug!(error = %err, "loopback receiver could not answer a connection");
    }
}
