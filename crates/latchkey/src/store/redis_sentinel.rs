//! A connection to whichever server Redis Sentinel names as the master of a service, found
//! again after a failover.
//!
//! redis-rs asks the sentinels for the master once per client; a connection to a master
//! that died, or that came back demoted to a replica (`READONLY`), stays broken. This wrapper
//! keeps one multiplexed connection to the current master and, when a command fails in a way
//! that means "not the master any more", asks the sentinels again and sends the command once
//! more, retrying for as long as a failover takes ([`FAILOVER_WAIT`]).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::sentinel::SentinelClient;
use redis::{ErrorKind, RedisError, RedisFuture, RedisResult, ServerErrorKind};

/// The longest a command waits for the sentinels to promote a new master: they need
/// `down-after-milliseconds` to agree the master is gone, then an election.
const FAILOVER_WAIT: Duration = Duration::from_secs(15);

/// The pause between two attempts while a failover runs.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// See the module docs. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct SentinelConnection {
    client: Arc<tokio::sync::Mutex<SentinelClient>>,
    current: Arc<Mutex<Option<MultiplexedConnection>>>,
    generation: Arc<AtomicU64>,
    db: i64,
}

impl fmt::Debug for SentinelConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentinelConnection")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl SentinelConnection {
    /// Connects to the current master, failing when no sentinel answers or none names a
    /// reachable master.
    pub(crate) async fn connect(client: SentinelClient, db: i64) -> RedisResult<Self> {
        let conn = Self {
            client: Arc::new(tokio::sync::Mutex::new(client)),
            current: Arc::new(Mutex::new(None)),
            generation: Arc::new(AtomicU64::new(0)),
            db,
        };
        conn.master().await?;
        Ok(conn)
    }

    /// The connection to the master, asking the sentinels when there is none.
    async fn master(&self) -> RedisResult<MultiplexedConnection> {
        if let Some(conn) = self.cached() {
            return Ok(conn);
        }
        // One asker at a time: the others then find its answer in the cache.
        let mut client = self.client.lock().await;
        if let Some(conn) = self.cached() {
            return Ok(conn);
        }
        let conn = client.get_async_connection().await?;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(conn)
    }

    /// How many times a master was connected to (see [`RedisConnection::generation`]).
    ///
    /// [`RedisConnection::generation`]: super::RedisConnection
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn cached(&self) -> Option<MultiplexedConnection> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn forget(&self) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Sends `request` to the master, again to the new master while a failover runs.
    async fn send(&self, request: Request<'_>) -> RedisResult<Vec<redis::Value>> {
        let deadline = Instant::now() + FAILOVER_WAIT;
        loop {
            let attempt = match self.master().await {
                Ok(mut conn) => match request {
                    Request::One(cmd) => conn.req_packed_command(cmd).await.map(|v| vec![v]),
                    Request::Pipeline(pipeline, offset, count) => {
                        conn.req_packed_commands(pipeline, offset, count).await
                    }
                },
                Err(e) => Err(e),
            };
            match attempt {
                Err(e) if master_gone(&e) && Instant::now() < deadline => {
                    tracing::debug!(error = %e, "the Redis master is gone; asking the sentinels again");
                    self.forget();
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                other => return other,
            }
        }
    }
}

/// What a caller sends: one command, or part of a pipeline's replies.
#[derive(Clone, Copy)]
enum Request<'a> {
    One(&'a redis::Cmd),
    Pipeline(&'a redis::Pipeline, usize, usize),
}

/// Whether an error means the connection no longer reaches a master: the server is gone or
/// unreachable, or it answers as a replica (a demoted master).
fn master_gone(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || matches!(
            e.kind(),
            ErrorKind::Server(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown)
                | ErrorKind::MasterNameNotFoundBySentinel
        )
}

impl ConnectionLike for SentinelConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> RedisFuture<'a, redis::Value> {
        Box::pin(async move {
            let mut values = self.send(Request::One(cmd)).await?;
            values
                .pop()
                .ok_or_else(|| RedisError::from((ErrorKind::Client, "no reply to a Redis command")))
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<redis::Value>> {
        Box::pin(async move { self.send(Request::Pipeline(pipeline, offset, count)).await })
    }

    fn get_db(&self) -> i64 {
        self.db
    }
}
