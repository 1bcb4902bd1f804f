//! The loopback redirect receiver for native-app logins (RFC 8252 §7.3).
//!
//! [`LoopbackReceiver::bind`] listens *before* the browser opens, so the redirect can never
//! arrive at a closed port; [`LoopbackReceiver::wait`] then serves connections until one
//! authorization response belongs to this login or the timeout passes.
//!
//! - Port 0 in the redirect URI picks a free port; [`LoopbackReceiver::redirect_uri`] holds
//!   the bound one, which is what the authorization request must carry.
//! - `localhost` listens on `127.0.0.1` *and* `[::1]` on the same port: browsers resolve it to
//!   either (RFC 8252 §8.3 prefers IP literals for this reason).
//! - Connections are served concurrently, each with its own read timeout: browsers open
//!   speculative idle connections that must not hold up the real redirect.
//! - At most [`MAX_PENDING_CONNECTIONS`] connections may wait for their request at once; past
//!   that, the *oldest* waiting one is closed. A local process holding connections open
//!   (slow-loris) thus cannot exhaust file descriptors, and cannot keep the real redirect out
//!   either: a browser sends its request as soon as it connects, long before 64 newer
//!   connections could push it out.
//! - A request whose `Host` is not the bound address or `localhost`, with the bound port, gets
//!   400: a web page reaching the port through DNS rebinding carries its own host name.
//! - Other paths get 404; a wrong or missing `state` gets 400 and the receiver keeps waiting;
//!   an `error` with the right `state` ends the login with that error.
//! - Every page is styled and branded ([`LoopbackPage`]) and sent with a strict
//!   `Content-Security-Policy` (no script; the one stylesheet allowed by its hash),
//!   `nosniff`, `no-referrer` and `no-store`.
//! - A [`CloseHook`] learns once how the browser part ended, so a desktop application can
//!   close the window it opened for the login.

mod close;
mod page;
mod wire;

use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use secrecy::SecretString;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use url::Url;

pub use crate::authorization::ExpectedResponse;
use crate::authorization::{Verdict, judge};
#[cfg(feature = "fuzzing")]
use wire::parse_head;
use wire::{Rejection, read_request, respond};

use crate::error::{Error, LoginError, Result};

pub use close::{CloseHook, LoginOutcome};
pub use page::{DEFAULT_ACCENT_COLOR, DEFAULT_PRODUCT_NAME, LoopbackPage, LoopbackPageBuilder};

/// How long a login may take by default.
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(300);
/// How long one connection may take to send its request line and headers.
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A redirect request is a few hundred bytes; anything far larger is not one.
const MAX_REQUEST_BYTES: usize = 16 * 1024;
/// How many connections may wait for their request head at once, over all listeners; a
/// browser opens a handful. Past this, the oldest waiting connection is closed.
pub const MAX_PENDING_CONNECTIONS: usize = 64;

type Outcome = std::result::Result<SecretString, LoginError>;

/// Listens on a loopback address for the authorization redirect.
pub struct LoopbackReceiver {
    listeners: Vec<TcpListener>,
    redirect_uri: Url,
    timeout: Duration,
    read_timeout: Duration,
    page: LoopbackPage,
    close_hook: Option<CloseHook>,
}

impl fmt::Debug for LoopbackReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopbackReceiver")
            .field("listeners", &self.listeners)
            .field("redirect_uri", &self.redirect_uri)
            .field("timeout", &self.timeout)
            .field("read_timeout", &self.read_timeout)
            .field("page", &self.page)
            .field("close_hook", &close::HookSet(self.close_hook.is_some()))
            .finish()
    }
}

impl LoopbackReceiver {
    /// Binds the address of `redirect_uri` (`http://127.0.0.1:0/callback`,
    /// `http://localhost:8765/callback`, `http://[::1]:0/cb`, …).
    ///
    /// Fails with [`LoginError::PortInUse`] when a pinned port is taken, and with
    /// [`Error::Config`] when the URI is not plain-HTTP loopback (RFC 8252 §7.3).
    pub async fn bind(redirect_uri: &str) -> Result<Self> {
        let mut uri = parse_redirect_uri(redirect_uri)?;
        let requested = uri.port().unwrap_or(80);
        let hosts: Vec<IpAddr> = match uri.host() {
            Some(url::Host::Ipv4(ip)) => vec![ip.into()],
            Some(url::Host::Ipv6(ip)) => vec![ip.into()],
            // `localhost` resolves to either family depending on the system and browser.
            _ => vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()],
        };
        // With port 0 the second family may find "its" port taken: pick another one.
        let mut attempts = if requested == 0 { 5 } else { 1 };
        let listeners = loop {
            attempts -= 1;
            match bind_all(&hosts, requested).await {
                Ok(listeners) => break listeners,
                Err(Error::Login(LoginError::PortInUse { .. })) if attempts > 0 => continue,
                Err(err) => return Err(err),
            }
        };
        let port = listeners[0]
            .local_addr()
            .map_err(|e| bind_error(SocketAddr::new(hosts[0], requested), &e))?
            .port();
        uri.set_port(Some(port))
            .map_err(|()| Error::Internal("cannot set the redirect URI's port".into()))?;
        tracing::debug!(redirect_uri = %uri, "loopback receiver listening");
        Ok(Self {
            listeners,
            redirect_uri: uri,
            timeout: DEFAULT_LOGIN_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            page: LoopbackPage::default(),
            close_hook: None,
        })
    }

    /// Brands the pages served to the browser (default: latchkey's).
    pub fn with_page(mut self, page: LoopbackPage) -> Self {
        self.page = page;
        self
    }

    /// Calls `hook` once when the browser part ends: after the page for this login's
    /// redirect was written, or when the wait times out.
    #[doc(alias = "close_window")]
    pub fn with_close_hook(mut self, hook: CloseHook) -> Self {
        self.close_hook = Some(hook);
        self
    }

    /// Gives up after this long without a matching response (default 300 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Drops a connection that has not sent a whole request within this long (default 10 s).
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The redirect URI with the bound port: send exactly this in the authorization request.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// The addresses listened on.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Serves the browser until a response for `expected` arrives, and returns its code.
    ///
    /// Stops listening before returning, whatever the outcome, then calls the close hook.
    pub async fn wait(self, expected: &ExpectedResponse) -> Result<SecretString> {
        let port = self.redirect_uri.port_or_known_default().unwrap_or(80);
        let shared = Arc::new(Shared {
            csp: self.page.content_security_policy(),
            page: self.page.clone(),
            path: self.redirect_uri.path().to_owned(),
            expected: expected.clone(),
            read_timeout: self.read_timeout,
            hosts: AllowedHosts {
                ips: self.local_addrs().iter().map(SocketAddr::ip).collect(),
                port,
            },
            pending: Mutex::default(),
        });
        let (tx, mut rx) = mpsc::channel::<Outcome>(1);
        let mut acceptors = JoinSet::new();
        for listener in self.listeners {
            acceptors.spawn(accept_loop(listener, shared.clone(), tx.clone()));
        }
        drop(tx);
        let outcome = tokio::time::timeout(self.timeout, rx.recv()).await;
        // Dropping the acceptors closes the listeners and aborts every open connection.
        acceptors.abort_all();
        let hook = self.close_hook.as_ref();
        match outcome {
            Ok(Some(Ok(code))) => {
                close::notify(hook, LoginOutcome::CodeReceived);
                Ok(code)
            }
            Ok(Some(Err(err))) => {
                close::notify(hook, LoginOutcome::Refused);
                Err(err.into())
            }
            Ok(None) => Err(Error::Internal(
                "the loopback receiver stopped unexpectedly".into(),
            )),
            Err(_) => {
                close::notify(hook, LoginOutcome::TimedOut);
                Err(LoginError::Timeout {
                    redirect_uri: self.redirect_uri.to_string(),
                    waited: self.timeout,
                }
                .into())
            }
        }
    }
}

/// Validates a loopback redirect URI (RFC 8252 §7.3: plain HTTP to a loopback host).
fn parse_redirect_uri(raw: &str) -> Result<Url> {
    let uri = Url::parse(raw)
        .map_err(|e| Error::Config(format!("`redirect_uri` is not a valid URL ({e})")))?;
    if uri.scheme() != "http" {
        return Err(Error::Config(format!(
            "`redirect_uri` {raw} must use http: the loopback receiver does not serve TLS (RFC 8252 §7.3)"
        )));
    }
    let loopback = match uri.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if !loopback {
        return Err(Error::Config(format!(
            "`redirect_uri` {raw} must point at 127.0.0.1, [::1] or localhost"
        )));
    }
    if uri.fragment().is_some() {
        return Err(Error::Config(format!(
            "`redirect_uri` {raw} must not have a fragment (RFC 6749 §3.1.2)"
        )));
    }
    Ok(uri)
}

async fn bind_all(hosts: &[IpAddr], port: u16) -> Result<Vec<TcpListener>> {
    let first = SocketAddr::new(hosts[0], port);
    let listener = TcpListener::bind(first)
        .await
        .map_err(|e| bind_error(first, &e))?;
    let port = listener
        .local_addr()
        .map_err(|e| bind_error(first, &e))?
        .port();
    let mut listeners = vec![listener];
    for host in &hosts[1..] {
        let addr = SocketAddr::new(*host, port);
        match TcpListener::bind(addr).await {
            Ok(listener) => listeners.push(listener),
            // No IPv6 on this machine: browsers then resolve localhost to 127.0.0.1 anyway.
            Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => {
                tracing::debug!(%addr, "loopback address unavailable, skipped");
            }
            Err(e) => return Err(bind_error(addr, &e)),
        }
    }
    Ok(listeners)
}

fn bind_error(addr: SocketAddr, err: &std::io::Error) -> Error {
    if err.kind() == std::io::ErrorKind::AddrInUse {
        LoginError::PortInUse { port: addr.port() }.into()
    } else {
        LoginError::Bind {
            addr: addr.to_string(),
            detail: err.to_string(),
        }
        .into()
    }
}

struct Shared {
    path: String,
    page: LoopbackPage,
    /// The page's `Content-Security-Policy`, computed once.
    csp: String,
    expected: ExpectedResponse,
    read_timeout: Duration,
    hosts: AllowedHosts,
    /// Connections still waiting for their request head, oldest first.
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    next_id: u64,
    open: VecDeque<(u64, AbortHandle)>,
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        // The lock guards plain bookkeeping that stays consistent even if a holder panicked.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Takes a connection off the pending list when dropped: once its head is read, or when it
/// ends (or is aborted) before that.
struct PendingSlot {
    id: u64,
    shared: Arc<Shared>,
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        self.shared.pending().open.retain(|(id, _)| *id != self.id);
    }
}

/// The `Host` values the receiver serves: a bound address or `localhost`, with the bound port.
struct AllowedHosts {
    ips: Vec<IpAddr>,
    port: u16,
}

impl AllowedHosts {
    fn allows(&self, host: Option<&str>) -> bool {
        let Some(host) = host else {
            return false;
        };
        // Only `host[:port]`: no user info, path or query for the URL parser to reinterpret.
        if host.is_empty() || host.contains(['/', '\\', '@', '?', '#']) {
            return false;
        }
        let Ok(url) = Url::parse(&format!("http://{host}/")) else {
            return false;
        };
        let host_ok = match url.host() {
            Some(url::Host::Ipv4(ip)) => self.ips.contains(&IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.ips.contains(&IpAddr::V6(ip)),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        host_ok && url.port_or_known_default() == Some(self.port)
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tx: mpsc::Sender<Outcome>) {
    // Owned here so aborting this task aborts every connection it started.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((stream, _peer)) => {
                let evicted = {
                    let mut pending = shared.pending();
                    let evicted = if pending.open.len() >= MAX_PENDING_CONNECTIONS {
                        pending.open.pop_front()
                    } else {
                        None
                    };
                    let id = pending.next_id;
                    pending.next_id += 1;
                    // Registered before the lock is released, so the slot's removal (which
                    // takes the lock) always finds it.
                    let slot = PendingSlot {
                        id,
                        shared: shared.clone(),
                    };
                    let handle = connections.spawn(serve(stream, slot, tx.clone()));
                    pending.open.push_back((id, handle));
                    evicted
                };
                if let Some((_, oldest)) = evicted {
                    tracing::debug!("loopback receiver full; closing its oldest idle connection");
                    oldest.abort();
                }
            }
            Err(err) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!(error = %err, "loopback receiver cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve(mut stream: TcpStream, slot: PendingSlot, tx: mpsc::Sender<Outcome>) {
    let shared = slot.shared.clone();
    let head = tokio::time::timeout(shared.read_timeout, read_request(&mut stream)).await;
    // The head is in (or the connection is done): no longer one that can be pushed out, and
    // what is left (one small answer) is bounded by the write timeout below.
    drop(slot);
    let head = match head {
        Ok(Ok(head)) => head,
        Ok(Err(Rejection::BadRequest)) => {
            respond(
                &mut stream,
                400,
                &page::bad_request(&shared.page),
                &shared.csp,
            )
            .await;
            return;
        }
        Ok(Err(Rejection::Method)) => {
            respond(
                &mut stream,
                405,
                &page::bad_request(&shared.page),
                &shared.csp,
            )
            .await;
            return;
        }
        // Idle pre-connects and closed sockets: nothing to answer.
        Ok(Err(Rejection::Closed)) | Err(_) => return,
    };
    let (status, body, outcome) = if shared.hosts.allows(head.host.as_deref()) {
        route(&head.target, &shared)
    } else {
        (400, page::bad_request(&shared.page), None)
    };
    let answer = respond(&mut stream, status, &body, &shared.csp);
    if tokio::time::timeout(shared.read_timeout, answer)
        .await
        .is_err()
    {
        tracing::debug!("loopback receiver gave up answering a connection that does not read");
    }
    // Sent only after the page was written, so the browser sees it before we shut down.
    if let Some(outcome) = outcome {
        let _ = tx.send(outcome).await;
    }
}

/// Fuzzing entry point: the status the receiver answers to the bytes of one request, for a
/// login expecting `state` at `http://127.0.0.1:8765/callback` (0: incomplete, the receiver
/// would read on).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub fn fuzz_request(bytes: &[u8], state: &str) -> u16 {
    let shared = Shared {
        path: "/callback".into(),
        page: LoopbackPage::default(),
        csp: String::new(),
        expected: ExpectedResponse::new(SecretString::from(state))
            .issuer("https://i.example", false),
        read_timeout: DEFAULT_READ_TIMEOUT,
        hosts: AllowedHosts {
            ips: vec![Ipv4Addr::LOCALHOST.into()],
            port: 8765,
        },
        pending: Mutex::default(),
    };
    match parse_head(bytes) {
        Ok(Some(head)) if !shared.hosts.allows(head.host.as_deref()) => 400,
        Ok(Some(head)) => route(&head.target, &shared).0,
        Ok(None) => 0,
        Err(Rejection::Method) => 405,
        Err(_) => 400,
    }
}

/// Decides the answer to a request target: status, page, and whether the login ends.
fn route(target: &str, shared: &Shared) -> (u16, String, Option<Outcome>) {
    // Only origin-form targets (RFC 9112 §3.2.1); `//host/x` would re-point the base URL.
    if !target.starts_with('/') || target.starts_with("//") {
        return (400, page::bad_request(&shared.page), None);
    }
    let base = Url::parse("http://127.0.0.1/").expect("a constant, valid URL");
    let Ok(url) = base.join(target) else {
        return (400, page::bad_request(&shared.page), None);
    };
    if url.path() != shared.path {
        return (404, page::not_found(&shared.page), None);
    }
    let branding = &shared.page;
    match judge(url.query_pairs(), &shared.expected) {
        Verdict::Code(code) => (200, page::success(branding), Some(Ok(code))),
        Verdict::Foreign => (400, page::foreign(branding), None),
        Verdict::Refused(reason) => {
            tracing::warn!(%reason, "refused a login response that cannot be believed; still waiting");
            (400, page::foreign(branding), None)
        }
        Verdict::Failed(err) => {
            let page = match &err {
                LoginError::AccessDenied { description } => {
                    page::failure(branding, "access_denied", description.as_deref())
                }
                LoginError::Authorization { error, description } => {
                    page::failure(branding, error, description.as_deref())
                }
                other => page::failed(branding, &other.to_string()),
            };
            (400, page, Some(Err(err)))
        }
    }
}
