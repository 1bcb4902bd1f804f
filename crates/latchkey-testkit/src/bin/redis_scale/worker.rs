//! The worker processes: many OS processes share one store, each reports once on stdout.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use latchkey::{ClientAuth, OAuthClient, Password, SecretString, TokenManager, TokenStore};
use latchkey_testkit::clients::{ALICE, PW_CLIENT};
use latchkey_testkit::worker_store::{fingerprint, open_store};
use serde_json::json;

/// How long a waiter may wait for a lock: far beyond any hand-over, so a slow one shows up
/// in the figures rather than as an error.
const LOCK_WAIT: Duration = Duration::from_secs(30);

pub(crate) async fn main(args: &[String]) -> ExitCode {
    let number = |i: usize| -> Option<u64> { args.get(i)?.parse().ok() };
    match args.first().map(String::as_str) {
        Some("tokens") if args.len() == 8 => {
            let (Some(keys), Some(tasks), Some(seconds), Some(margin)) =
                (number(4), number(5), number(6), number(7))
            else {
                return usage();
            };
            let store = open_store(&args[1], None).await;
            tokens(
                store,
                &args[2],
                &args[3],
                keys as usize,
                tasks as usize,
                Duration::from_secs(seconds),
                Duration::from_millis(margin),
            )
            .await;
            ExitCode::SUCCESS
        }
        Some("handover") if args.len() == 6 => {
            let (Some(seconds), Some(hold), Some(rest)) = (number(3), number(4), number(5)) else {
                return usage();
            };
            let store = open_store(&args[1], None).await;
            handover(
                store,
                &args[2],
                Duration::from_secs(seconds),
                Duration::from_millis(hold),
                Duration::from_millis(rest),
            )
            .await;
            ExitCode::SUCCESS
        }
        _ => usage(),
    }
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: latchkey-redis-scale worker tokens <store> <token-url> <key-prefix> <keys> <tasks-per-key> <seconds> <margin-ms>\n       \
         latchkey-redis-scale worker handover <store> <key> <seconds> <hold-ms> <rest-ms>"
    );
    ExitCode::from(2)
}

fn report(value: serde_json::Value) {
    println!("{value}");
}

/// `keys` keys (`<prefix>-0` …), `tasks_per_key` tasks each with its own token manager, all
/// asking for a header in a loop for `run`, with the password grant for alice at
/// `token_url`. Reports every error as it happens, then the distinct tokens seen per key.
async fn tokens(
    store: Arc<dyn TokenStore>,
    token_url: &str,
    prefix: &str,
    keys: usize,
    tasks_per_key: usize,
    run: Duration,
    margin: Duration,
) {
    let client = OAuthClient::builder(PW_CLIENT)
        .auth(ClientAuth::None)
        .token_url(token_url)
        .build()
        .expect("the password client");
    let seen: Arc<Mutex<BTreeMap<String, BTreeSet<String>>>> = Arc::default();
    let started = Instant::now();
    let deadline = started + run;
    let tasks: Vec<_> = (0..keys * tasks_per_key)
        .map(|i| {
            let key = format!("{prefix}-{}", i % keys);
            let manager = TokenManager::builder(
                client.clone(),
                Password::new(ALICE.0, SecretString::from(ALICE.1)),
            )
            .key(&key)
            .store(store.clone())
            .refresh_margin(margin)
            .lock_wait(LOCK_WAIT)
            .build()
            .expect("a token manager");
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut calls = 0u64;
                loop {
                    calls += 1;
                    match manager.authorization_header().await {
                        Ok(header) => {
                            let token = fingerprint(header.as_bytes());
                            let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                            seen.entry(key.clone()).or_default().insert(token);
                        }
                        Err(err) => report(json!({
                            "event": "error",
                            "key": key,
                            "invalid_grant": err.is_invalid_grant(),
                            "message": err.to_string(),
                        })),
                    }
                    if Instant::now() >= deadline {
                        return calls;
                    }
                    // Callers spread out as a service's requests would be.
                    let pause = 5 + (calls * 7 + i as u64 * 13) % 30;
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            })
        })
        .collect();
    let mut calls = 0;
    for task in tasks {
        calls += task.await.expect("a caller task");
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|p| p.into_inner()));
    report(json!({
        "event": "done",
        "calls": calls,
        "tokens": seen,
        "elapsed_ms": started.elapsed().as_millis() as u64,
    }));
}

/// Nanoseconds since the Unix epoch: one clock every process on the machine reads.
fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Takes the refresh lock on `key`, holds it for `hold`, lets go, and asks again after
/// `rest`, for `run`. Reports each acquisition as `[asked, got, released]` (ns since the
/// epoch). The rest keeps a holder from taking the lock straight back, which is not how
/// refreshes follow each other and would hide the hand-over between processes.
async fn handover(
    store: Arc<dyn TokenStore>,
    key: &str,
    run: Duration,
    hold: Duration,
    rest: Duration,
) {
    let deadline = Instant::now() + run;
    let mut acquisitions = Vec::new();
    while Instant::now() < deadline {
        let asked = now_ns();
        let lock = match store.lock(key, LOCK_WAIT).await {
            Ok(lock) => lock,
            Err(err) => {
                report(json!({ "event": "error", "message": err.to_string() }));
                continue;
            }
        };
        let got = now_ns();
        tokio::time::sleep(hold).await;
        let released = now_ns();
        drop(lock);
        acquisitions.push([asked, got, released]);
        tokio::time::sleep(rest).await;
    }
    report(json!({
        "event": "done",
        "pid": std::process::id(),
        "acquisitions": acquisitions,
    }));
}
