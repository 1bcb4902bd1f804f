//! How to reach a Redis server: its URL plus what a URL cannot carry safely (a password from
//! a secret store, a private CA, a client certificate). The one place a Redis client is built,
//! for the token store and for `latchkey-axum`'s session store alike.

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{IntoConnectionInfo, RedisFuture};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::redis_sentinel::SentinelConnection;
use super::{StoreError, lease};
use crate::redact::DisplayUrl;

/// Where a Redis server is and how to authenticate to it (a builder).
///
/// - `redis://host:port/db` is plain TCP; `rediss://` is TLS (rustls), verified against the
///   platform's trusted roots, or against [`ca_pem`](Self::ca_pem) alone when one is given.
/// - `redis+sentinel://sentinel:26379/MASTER[/DB]` (`rediss+sentinel://` for TLS) finds the
///   master of the service `MASTER` through Redis Sentinel, and finds the new one after a
///   failover; [`more_sentinels`](Self::more_sentinels) adds the other sentinels.
/// - An ACL user and password may sit in the URL (`rediss://user:pass@host`), but
///   [`password`](Self::password) keeps the password out of configuration files and
///   process listings. Neither is ever shown: `Debug`, [`shown`](Self::shown) and every
///   error message use the URL without its password.
///
/// ```
/// # use latchkey::RedisConfig;
/// let config = RedisConfig::new("rediss://latchkey@cache.internal:6380/0")?
///     .password("from a secret store".to_string().into())
///     .key_prefix("team-a:");
/// assert_eq!(config.shown(), "rediss://cache.internal:6380/0");
/// # Ok::<(), latchkey::StoreError>(())
/// ```
#[derive(Clone)]
pub struct RedisConfig {
    url: Url,
    password: Option<SecretString>,
    ca_pem: Option<Vec<u8>>,
    client_cert_pem: Option<Vec<u8>>,
    client_key_pem: Option<SecretString>,
    prefix: String,
    lease: Duration,
    cluster: bool,
    more_sentinels: Vec<String>,
    wait_replicas: Option<(u32, Duration)>,
}

/// How long to wait for a connection, and for each answer, before reporting the store
/// unavailable: a hung Redis must not hang every caller.
const TIMEOUT: Duration = Duration::from_secs(5);

impl RedisConfig {
    /// A configuration for `url` (`redis://` or `rediss://`), with the key prefix
    /// `latchkey:` and the default lock lease.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let invalid = |reason: String| StoreError::Unavailable {
            backend: "redis".into(),
            reason,
        };
        // The URL may hold a password: the messages name the problem, never the URL.
        let url = Url::parse(url).map_err(|e| invalid(format!("invalid Redis URL: {e}")))?;
        if !matches!(
            url.scheme(),
            "redis" | "rediss" | "redis+sentinel" | "rediss+sentinel"
        ) {
            return Err(invalid(format!(
                "a Redis URL starts with redis:// (plain), rediss:// (TLS), redis+sentinel:// \
                 or rediss+sentinel://, not {}://",
                url.scheme()
            )));
        }
        Ok(Self {
            url,
            password: None,
            ca_pem: None,
            client_cert_pem: None,
            client_key_pem: None,
            prefix: "latchkey:".into(),
            lease: lease::DEFAULT_LEASE,
            cluster: false,
            more_sentinels: Vec::new(),
            wait_replicas: None,
        })
    }

    /// Treat a lock or a save as done only once `replicas` replicas have it (`WAIT`), within
    /// `timeout`: a failover then cannot lose a rotated refresh token that was saved, nor a
    /// lock whose holder is already refreshing. A lock that is not copied in time is given
    /// back and taken again; a save is written again until it is copied or the lock's lease
    /// runs out. Needs at least `replicas` replicas *after* a failover (with one replica to
    /// wait for, run two). Not for a cluster.
    pub fn wait_for_replicas(mut self, replicas: u32, timeout: Duration) -> Self {
        self.wait_replicas = (replicas > 0).then_some((replicas, timeout));
        self
    }

    pub(crate) fn replicas_to_wait_for(&self) -> Option<(u32, Duration)> {
        self.wait_replicas
    }

    /// More sentinels (`host:port`) besides the one in a `redis+sentinel://` URL, asked in
    /// turn when one does not answer.
    pub fn more_sentinels(mut self, nodes: Vec<String>) -> Self {
        self.more_sentinels = nodes;
        self
    }

    /// The URL is one node of a Redis Cluster: the client learns the others from it and
    /// follows `MOVED`/`ASK` redirects while slots move. Keys then carry a hash tag
    /// (`latchkey:token:{svc}`, `latchkey:lock:{svc}`) so that a token, its lock and the
    /// scripts that touch both live in one slot.
    pub fn cluster(mut self) -> Self {
        self.cluster = true;
        self
    }

    /// Whether this is a Redis Cluster (see [`cluster`](Self::cluster)).
    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// The password of the URL's user (or of `default` when the URL names none), replacing
    /// any password in the URL.
    pub fn password(mut self, password: SecretString) -> Self {
        self.password = Some(password);
        self
    }

    /// Trust only these CA certificates (PEM) for `rediss://`, instead of the platform's
    /// roots: a private CA, and a pin against any other.
    pub fn ca_pem(mut self, pem: Vec<u8>) -> Self {
        self.ca_pem = Some(pem);
        self
    }

    /// A client certificate chain and its private key (both PEM) for servers that require
    /// mutual TLS (`tls-auth-clients yes`).
    pub fn client_identity(mut self, cert_pem: Vec<u8>, key_pem: SecretString) -> Self {
        self.client_cert_pem = Some(cert_pem);
        self.client_key_pem = Some(key_pem);
        self
    }

    /// The prefix of every key written (default `latchkey:`).
    pub fn key_prefix(mut self, prefix: &str) -> Self {
        prefix.clone_into(&mut self.prefix);
        self
    }

    /// The lock lease: the longest a crashed lock holder can block its peers (default
    /// 10 s, at least 200 ms).
    pub fn lock_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(200));
        self
    }

    /// The URL without its user and password, for messages and `describe`.
    pub fn shown(&self) -> String {
        DisplayUrl::new(&self.url).to_string()
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn lease(&self) -> Duration {
        self.lease
    }

    /// Every password this configuration knows, for scrubbing messages.
    pub(crate) fn secrets(&self) -> Vec<SecretString> {
        let in_url = self
            .url
            .password()
            .filter(|p| !p.is_empty())
            .map(|p| SecretString::from(p.to_owned()));
        in_url.into_iter().chain(self.password.clone()).collect()
    }

    /// Connects: one connection (multiplexed, reconnecting) to a single server, or a cluster
    /// connection that routes each command to the node owning its slot. Fails with
    /// [`StoreError::Unavailable`] when the server cannot be reached, a certificate or key
    /// does not parse, or TLS material is given for a plain `redis://` URL (it would be
    /// silently unused).
    pub async fn connect(&self) -> Result<RedisConnection, StoreError> {
        let unavailable = |e: redis::RedisError| StoreError::Unavailable {
            backend: self.shown(),
            reason: scrub(&e, &self.secrets()),
        };
        if self.cluster && self.wait_replicas.is_some() {
            return Err(StoreError::Unavailable {
                backend: self.shown(),
                reason: "waiting for replicas is for a single master (or Sentinel), not a \
                         cluster"
                    .into(),
            });
        }
        if let Some(sentinel) = self.sentinel_client()? {
            let (client, db) = sentinel;
            let conn = SentinelConnection::connect(client, db)
                .await
                .map_err(unavailable)?;
            return Ok(RedisConnection::Sentinel(conn));
        }
        let (info, certificates) = self.connection_info()?;
        if self.cluster {
            let mut builder = redis::cluster::ClusterClientBuilder::new(vec![info])
                .connection_timeout(TIMEOUT)
                .response_timeout(TIMEOUT)
                .retries(3);
            if let Some(certificates) = certificates {
                builder = builder.certs(certificates);
            }
            let client = builder.build().map_err(unavailable)?;
            let conn = client.get_async_connection().await.map_err(unavailable)?;
            return Ok(RedisConnection::Cluster(conn));
        }
        let client = match certificates {
            Some(certificates) => redis::Client::build_with_tls(info, certificates),
            None => redis::Client::open(info),
        }
        .map_err(unavailable)?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, manager)
            .await
            .map_err(unavailable)?;
        Ok(RedisConnection::Single(conn))
    }

    /// For a `redis+sentinel://` URL: a client that asks the sentinels for the master, and
    /// the database to select.
    fn sentinel_client(&self) -> Result<Option<(SentinelClient, i64)>, StoreError> {
        let tls = match self.url.scheme() {
            "redis+sentinel" => false,
            "rediss+sentinel" => true,
            _ => return Ok(None),
        };
        let invalid = |reason: String| StoreError::Unavailable {
            backend: self.shown(),
            reason,
        };
        if self.cluster {
            return Err(invalid("a sentinel URL cannot also be a cluster".into()));
        }
        let usage = "a sentinel URL is redis+sentinel://SENTINEL:PORT/MASTER[/DB]";
        let mut segments = self
            .url
            .path_segments()
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty());
        let master = segments
            .next()
            .ok_or_else(|| invalid(format!("{usage}: it names no master")))?
            .to_owned();
        let db = match segments.next() {
            Some(db) => db
                .parse::<i64>()
                .map_err(|_| invalid(format!("{usage}: `{db}` is not a database number")))?,
            None => 0,
        };
        let first = match (self.url.host_str(), self.url.port()) {
            (Some(host), port) => format!("{host}:{}", port.unwrap_or(26379)),
            (None, _) => return Err(invalid(format!("{usage}: it names no sentinel"))),
        };
        let scheme = if tls { "rediss" } else { "redis" };
        let mut sentinels = Vec::new();
        for node in std::iter::once(&first).chain(&self.more_sentinels) {
            let info = format!("{scheme}://{node}/")
                .as_str()
                .into_connection_info()
                .map_err(|_| invalid(format!("the sentinel `{node}` is not HOST:PORT")))?;
            sentinels.push(info.addr().clone());
        }
        if tls {
            install_crypto_provider();
        }
        let certificates = self.tls_material()?;
        let mut builder = SentinelClientBuilder::new(sentinels, master, SentinelServerType::Master)
            .map_err(|e| invalid(scrub(&e, &self.secrets())))?
            .set_client_to_redis_db(db);
        if tls {
            builder = builder
                .set_client_to_redis_tls_mode(redis::TlsMode::Secure)
                .set_client_to_sentinel_tls_mode(redis::TlsMode::Secure);
        }
        if !self.url.username().is_empty() {
            builder = builder.set_client_to_redis_username(self.url.username());
        }
        let password = self
            .password
            .as_ref()
            .map(|p| p.expose_secret().to_owned())
            .or_else(|| self.url.password().map(str::to_owned));
        if let Some(password) = password {
            builder = builder.set_client_to_redis_password(password);
        }
        if let Some(certificates) = certificates {
            builder = builder
                .set_client_to_sentinel_certificates(certificates.clone())
                .set_client_to_redis_certificates(certificates);
        }
        let client = builder
            .build()
            .map_err(|e| invalid(scrub(&e, &self.secrets())))?;
        Ok(Some((client, db)))
    }

    /// The server's address and credentials, and the TLS material when there is any.
    fn connection_info(
        &self,
    ) -> Result<(redis::ConnectionInfo, Option<redis::TlsCertificates>), StoreError> {
        let unavailable = |reason: String| StoreError::Unavailable {
            backend: self.shown(),
            reason,
        };
        let certificates = self.tls_material()?;
        let mut info = self
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| unavailable(scrub(&e, &self.secrets())))?;
        if let Some(password) = &self.password {
            let settings = info
                .redis_settings()
                .clone()
                .set_password(password.expose_secret());
            info = info.set_redis_settings(settings);
        }
        if self.url.scheme() == "rediss" {
            install_crypto_provider();
        }
        Ok((info, certificates))
    }

    /// The CA and client certificate as redis-rs takes them, checked; `None` when neither
    /// is set. Fails when they are set for a plain (not TLS) URL.
    fn tls_material(&self) -> Result<Option<redis::TlsCertificates>, StoreError> {
        let unavailable = |reason: String| StoreError::Unavailable {
            backend: self.shown(),
            reason,
        };
        let tls_material = self.ca_pem.is_some() || self.client_cert_pem.is_some();
        if tls_material && !self.url.scheme().starts_with("rediss") {
            return Err(unavailable(
                "a CA or client certificate is set, but the URL is redis:// (plain TCP); \
                 use rediss:// to connect with TLS"
                    .into(),
            ));
        }
        if let Some(pem) = &self.ca_pem {
            count_certificates(pem).map_err(|why| unavailable(format!("the CA bundle {why}")))?;
        }
        if let Some(pem) = &self.client_cert_pem {
            count_certificates(pem)
                .map_err(|why| unavailable(format!("the client certificate {why}")))?;
        }
        let certificates = tls_material.then(|| redis::TlsCertificates {
            client_tls: self
                .client_cert_pem
                .as_ref()
                .zip(self.client_key_pem.as_ref())
                .map(|(cert, key)| redis::ClientTlsConfig {
                    client_cert: cert.clone(),
                    client_key: key.expose_secret().as_bytes().to_vec(),
                }),
            root_cert: self.ca_pem.clone(),
        });
        Ok(certificates)
    }
}

/// A connection to Redis: to one server, a cluster, or the master Sentinel names. Cheap to clone (clones share the
/// underlying connections); commands and scripts run on it like on any redis-rs connection.
#[derive(Clone)]
#[non_exhaustive]
pub enum RedisConnection {
    /// One server (or a managed service's single endpoint), reconnecting when dropped.
    Single(ConnectionManager),
    /// A Redis Cluster; each command goes to the node owning its key's slot.
    Cluster(ClusterConnection),
    /// The master Redis Sentinel names, found again after a failover.
    Sentinel(SentinelConnection),
}

impl fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RedisConnection::Single(_) => "RedisConnection::Single",
            RedisConnection::Cluster(_) => "RedisConnection::Cluster",
            RedisConnection::Sentinel(_) => "RedisConnection::Sentinel",
        })
    }
}

impl RedisConnection {
    /// Changes whenever the connection was made again to another server (a Sentinel
    /// failover): a `WAIT` after a write counts only if both ran on one connection.
    pub(crate) fn generation(&self) -> u64 {
        match self {
            RedisConnection::Sentinel(conn) => conn.generation(),
            _ => 0,
        }
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> RedisFuture<'a, redis::Value> {
        match self {
            RedisConnection::Single(conn) => conn.req_packed_command(cmd),
            RedisConnection::Cluster(conn) => conn.req_packed_command(cmd),
            RedisConnection::Sentinel(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<redis::Value>> {
        match self {
            RedisConnection::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            RedisConnection::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
            RedisConnection::Sentinel(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConnection::Single(conn) => conn.get_db(),
            RedisConnection::Cluster(conn) => conn.get_db(),
            RedisConnection::Sentinel(conn) => conn.get_db(),
        }
    }
}

/// Fails unless `pem` holds at least one certificate: an empty trust store would only
/// surface later as a handshake failure that names no file.
fn count_certificates(pem: &[u8]) -> Result<usize, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("is not valid PEM ({e})"))?;
    match certificates.len() {
        0 => Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into()),
        n => Ok(n),
    }
}

/// rustls needs one process-wide crypto provider; an application that enables a second one
/// (`ring` beside latchkey's `aws-lc-rs`) leaves rustls unable to pick and it would panic on
/// connect. Installing ours first is harmless when the application installed its own.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: either provider serves.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

/// A Redis error message, with every known password cut out should the client quote one,
/// and what to change for the failures a deployment meets first (TLS trust, mutual TLS,
/// ACL credentials).
pub(crate) fn scrub(e: &redis::RedisError, secrets: &[SecretString]) -> String {
    let mut message = e.to_string();
    for secret in secrets {
        let secret = secret.expose_secret();
        if !secret.is_empty() {
            message = message.replace(secret, "***");
        }
    }
    let hint = if message.contains("invalid peer certificate") {
        Some(
            "the server's certificate is not from a CA this client trusts: give the CA that \
             issued it (a profile's `store.ca`, `RedisConfig::ca_pem`)",
        )
    } else if message.contains("CertificateRequired") {
        Some(
            "the server requires a client certificate (mutual TLS): give one with its key \
             (a profile's `store.cert` and `store.key`, `RedisConfig::client_identity`)",
        )
    } else if ["AuthenticationFailed", "WRONGPASS", "NOAUTH"]
        .iter()
        .any(|code| message.contains(code))
    {
        Some(
            "check the ACL user in the URL (`rediss://USER@host`) and its password (a \
             profile's `store.password`, `RedisConfig::password`)",
        )
    } else {
        None
    };
    match hint {
        Some(hint) => format!("{message}; {hint}"),
        None => message,
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &self.shown())
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field("ca_pem", &self.ca_pem.is_some())
            .field("client_identity", &self.client_cert_pem.is_some())
            .field("prefix", &self.prefix)
            .field("lease", &self.lease)
            .field("cluster", &self.cluster)
            .field("wait_replicas", &self.wait_replicas)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let config = RedisConfig::new("rediss://alice:in-url-secret@cache:6380/0")
            .unwrap()
            .password("given-secret".to_string().into());
        let shown = format!("{} {config:?}", config.shown());
        assert!(
            !shown.contains("in-url-secret") && !shown.contains("given-secret"),
            "{shown}"
        );
        assert!(shown.contains("rediss://cache:6380/0"), "{shown}");
    }

    #[test]
    fn a_url_that_is_not_redis_is_refused_without_quoting_it() {
        let err = RedisConfig::new("http://u:hunter2@cache/")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rediss://") && !err.contains("hunter2"),
            "{err}"
        );
        let err = RedisConfig::new("redis://u:hunter2@[::1")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn tls_material_on_a_plain_url_is_an_error_not_ignored() {
        let err = RedisConfig::new("redis://127.0.0.1:6379/")
            .unwrap()
            .ca_pem(b"-----BEGIN CERTIFICATE-----".to_vec())
            .connection_info()
            .unwrap_err()
            .to_string();
        assert!(err.contains("use rediss://"), "{err}");
    }

    #[test]
    fn a_ca_that_does_not_parse_is_reported_when_the_client_is_built() {
        let err = RedisConfig::new("rediss://127.0.0.1:6379/")
            .unwrap()
            .ca_pem(b"not a certificate".to_vec())
            .connection_info()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("the CA bundle holds no PEM certificate"),
            "{err}"
        );
    }
}
