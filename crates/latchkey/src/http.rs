//! The one place a `reqwest::Client` is built, and the one reader of identity-provider
//! response bodies.

use std::time::Duration;

use url::Url;

use crate::error::{Error, Result};
use crate::redact::DisplayUrl;

/// A client for talking to identity providers: rustls with the platform's trust store, no
/// redirects (a token request must never be replayed at another host), bounded timeouts and
/// an identifying `User-Agent`.
pub fn http_client() -> Result<reqwest::Client> {
    http_client_builder()
        .build()
        .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))
}

/// The settings of [`http_client`], still open: for a client that needs more, such as a
/// client certificate for mutual TLS ([`crate::ClientCertificate::http_client_builder`]) or
/// a private CA (`add_root_certificate`).
#[allow(
    clippy::disallowed_methods,
    reason = "the one constructor every other client is pointed to by clippy.toml"
)]
pub fn http_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
}

/// The largest identity-provider response body latchkey reads. Token, metadata, key-set,
/// userinfo, introspection and device-authorization answers are a few kilobytes; a bigger
/// answer is not one of them, and reading it whole would let a hostile server exhaust memory.
pub(crate) const MAX_BODY: usize = 1024 * 1024;

/// Reads `response`'s body, refusing it as soon as it grows past [`MAX_BODY`] (a declared
/// `Content-Length` over the cap is refused before anything is read).
pub(crate) async fn read_body(mut response: reqwest::Response, url: &Url) -> Result<Vec<u8>> {
    let too_large = || Error::InvalidResponse {
        url: DisplayUrl::new(url),
        reason: format!("the response is larger than {MAX_BODY} bytes"),
    };
    if response
        .content_length()
        .is_some_and(|len| len > MAX_BODY as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| Error::network(url, e))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether `url` points at this machine (where plain HTTP is acceptable, RFC 8252 §8.3).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Parses an endpoint URL for `field`, requiring HTTPS unless it is loopback or
/// `allow_insecure` is set.
pub(crate) fn endpoint(field: &str, raw: &str, allow_insecure: bool) -> Result<Url> {
    let url = Url::parse(raw)
        .map_err(|e| Error::Config(format!("`{field}` is not a valid URL ({e})")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_insecure || is_loopback(&url) => Ok(url),
        "http" => Err(Error::Config(format!(
            "`{field}` ({}) uses plain HTTP; use https, or allow insecure HTTP explicitly for testing",
            DisplayUrl::new(&url)
        ))),
        other => Err(Error::Config(format!(
            "`{field}` has unsupported scheme `{other}`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A fake identity provider that answers every request with a 64 MiB JSON-looking body
    /// sent in chunks (no real provider does this on demand), counting what it managed to
    /// write. `declare_length` sends `Content-Length`; otherwise the body is chunked.
    async fn fake_huge_body_server(declare_length: bool) -> (Url, Arc<AtomicU64>) {
        const TOTAL: u64 = 64 * 1024 * 1024;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/token", listener.local_addr().unwrap())).unwrap();
        let written = Arc::new(AtomicU64::new(0));
        let counter = written.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let head = if declare_length {
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {TOTAL}\r\n\r\n"
                        )
                    } else {
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".to_owned()
                    };
                    if socket.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let chunk = vec![b' '; 64 * 1024];
                    let mut sent = 0;
                    while sent < TOTAL {
                        let ok = if declare_length {
                            socket.write_all(&chunk).await
                        } else {
                            let framed =
                                [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"]
                                    .concat();
                            socket.write_all(&framed).await
                        };
                        if ok.is_err() {
                            return;
                        }
                        sent += chunk.len() as u64;
                        counter.store(sent, Ordering::SeqCst);
                    }
                });
            }
        });
        (url, written)
    }

    #[tokio::test]
    async fn finding_unbounded_response_bodies_are_capped() {
        for declare_length in [false, true] {
            let (url, written) = fake_huge_body_server(declare_length).await;
            let client = crate::client::OAuthClient::builder("c")
                .token_url(url.as_str())
                .revocation_url(url.as_str())
                .build()
                .unwrap();
            let token = secrecy::SecretString::from("t".to_owned());
            let err = client.revoke(&token, "refresh_token").await.unwrap_err();
            assert!(
                err.to_string().contains("larger than"),
                "declare_length={declare_length}: {err}"
            );
            // The reader stopped early: far less than the 64 MiB was ever accepted.
            assert!(
                written.load(Ordering::SeqCst) < 16 * 1024 * 1024,
                "declare_length={declare_length}: {} bytes went out",
                written.load(Ordering::SeqCst)
            );
        }
    }

    #[test]
    fn plain_http_only_for_loopback_unless_allowed() {
        assert!(endpoint("token_url", "http://127.0.0.1:9/token", false).is_ok());
        assert!(endpoint("token_url", "http://[::1]:9/token", false).is_ok());
        assert!(endpoint("token_url", "http://localhost/token", false).is_ok());
        let err = endpoint("token_url", "http://idp.example/token", false).unwrap_err();
        assert!(err.to_string().contains("token_url"), "{err}");
        assert!(endpoint("token_url", "http://idp.example/token", true).is_ok());
        assert!(endpoint("token_url", "ftp://idp.example/token", true).is_err());
    }
}
