//! Token, refresh and revocation requests never follow a redirect, even through a
//! caller-supplied `reqwest::Client` that would (reqwest's default policy re-sends the form
//! body, client secret or refresh token included, on 307 and 308).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey::grant::Grant;
use latchkey::{ClientAuth, ClientCredentials, Error, OAuthClient, SecretString};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SECRET: &str = "redirect-me-not-secret";

/// A raw-TCP loopback server answering every request with `answer` (whose `{port}` is its
/// own port) and recording every byte it receives. Raw TCP so that it records exactly what
/// arrives, body included.
async fn fake_server(
    answer: impl Fn(u16) -> String + Send + 'static,
) -> (u16, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let seen = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            // The request (head and a small form) arrives in a burst; answer after a pause
            // in it, so nothing the client sends before reading the answer goes unrecorded.
            let mut buf = [0u8; 4096];
            while let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await
            {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            let _ = stream.write_all(answer(port).as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    });
    (port, received)
}

/// A token endpoint that redirects every request to another listener, which answers with a
/// token. No real identity provider redirects its token endpoint on demand (the fixture
/// never does), yet a misconfigured proxy or a hostile server can: this is the shape of that
/// answer, a 30x with `Location` at another origin.
async fn fake_redirecting_token_endpoint(
    status: u16,
) -> (String, Arc<Mutex<Vec<u8>>>, Arc<Mutex<Vec<u8>>>) {
    let (target_port, target_received) = fake_server(|_| {
        let body = r#"{"access_token":"stolen","token_type":"Bearer","expires_in":3600}"#;
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        )
    })
    .await;
    let (port, received) = fake_server(move |_| {
        format!(
            "HTTP/1.1 {status} Redirect\r\nLocation: http://127.0.0.1:{target_port}/token\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
    })
    .await;
    (
        format!("http://127.0.0.1:{port}/token"),
        received,
        target_received,
    )
}

/// What a caller might pass: reqwest's defaults, following up to 10 redirects.
#[allow(
    clippy::disallowed_methods,
    reason = "the point is a client that was not built by latchkey::http_client()"
)]
fn following_client() -> reqwest::Client {
    reqwest::Client::new()
}

fn text(bytes: &Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&bytes.lock().unwrap()).into_owned()
}

#[tokio::test]
async fn finding_c_token_requests_are_never_replayed_at_a_redirect_target() {
    for status in [307, 308, 301, 302, 303] {
        let (token_url, endpoint_received, target_received) =
            fake_redirecting_token_endpoint(status).await;
        let client = OAuthClient::builder("svc")
            .auth(ClientAuth::SecretPost(SecretString::from(SECRET)))
            .token_url(&token_url)
            .http_client(following_client())
            .build()
            .unwrap();

        let err = ClientCredentials::new().obtain(&client).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidResponse { .. }),
            "{status}: {err:?}"
        );
        assert!(err.to_string().contains("redirect"), "{status}: {err}");
        // The endpoint got the form, in one piece with its length (not chunked) ...
        let sent = text(&endpoint_received);
        assert!(sent.contains(SECRET), "{status}: {sent}");
        assert!(
            sent.to_ascii_lowercase().contains("content-length:"),
            "{status}: {sent}"
        );
        // ... and the redirect target never saw it, nor the secret.
        let leaked = text(&target_received);
        assert!(!leaked.contains(SECRET), "{status}: {leaked}");
        assert!(!leaked.contains("grant_type"), "{status}: {leaked}");
        if status == 307 || status == 308 {
            assert!(
                leaked.is_empty(),
                "{status}: the redirect was followed: {leaked}"
            );
        }

        // Revocation posts a token the same way.
        let client = OAuthClient::builder("svc")
            .auth(ClientAuth::SecretPost(SecretString::from(SECRET)))
            .token_url(&token_url)
            .revocation_url(&token_url)
            .http_client(following_client())
            .build()
            .unwrap();
        let err = client
            .revoke(&SecretString::from("revoke-me-refresh"), "refresh_token")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("redirect"), "{status}: {err}");
        let leaked = text(&target_received);
        assert!(
            !leaked.contains(SECRET) && !leaked.contains("revoke-me-refresh"),
            "{status}: {leaked}"
        );
    }
}
