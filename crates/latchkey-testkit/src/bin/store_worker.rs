//! A worker process for the cross-process store tests: many tasks in one OS process share
//! one store with their peers in other processes, and report on stdout as JSON lines.
//!
//! ```text
//! latchkey-store-worker <load|once> <store> <token-url> <key> [--tasks N] [--managers N]
//!     [--seconds S] [--margin-ms MS] [--lock-wait-ms MS] [--lease-ms MS]
//! store: file:<dir> | sqlite:<path> | redis:<url> | redis-sentinel:<url>;<sentinel>;…
//! ```
//! `load` runs `tasks` tasks over `managers` token managers for `seconds`, each asking for
//! the `Authorization` header in a loop; `once` asks once. Every failure is one line
//! `{"event":"error",...}`; the last line is `{"event":"done",...}` with the distinct access
//! tokens seen (as hashes: the test compares them, it never needs the tokens).
#![allow(
    clippy::print_stdout,
    reason = "stdout is this test worker's report channel"
)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use latchkey::{ClientAuth, OAuthClient, Password, SecretString, TokenManager};
use latchkey_testkit::clients::{ALICE, PW_CLIENT};
use latchkey_testkit::worker_store::{fingerprint, open_store};
use serde_json::json;

struct Args {
    mode: String,
    store: String,
    token_url: String,
    key: String,
    tasks: usize,
    managers: usize,
    seconds: u64,
    margin: Duration,
    lock_wait: Duration,
    lease: Duration,
}

fn parse() -> Args {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: u64| -> u64 {
        raw.iter()
            .position(|a| a == name)
            .and_then(|i| raw.get(i + 1))
            .map(|v| v.parse().expect("numeric flag"))
            .unwrap_or(default)
    };
    assert!(
        raw.len() >= 4,
        "usage: latchkey-store-worker <load|once> <store> <token-url> <key> [flags]"
    );
    Args {
        mode: raw[0].clone(),
        store: raw[1].clone(),
        token_url: raw[2].clone(),
        key: raw[3].clone(),
        tasks: flag("--tasks", 50) as usize,
        managers: flag("--managers", 50) as usize,
        seconds: flag("--seconds", 10),
        margin: Duration::from_millis(flag("--margin-ms", 1000)),
        lock_wait: Duration::from_millis(flag("--lock-wait-ms", 30_000)),
        lease: Duration::from_millis(flag("--lease-ms", 10_000)),
    }
}

fn report(value: serde_json::Value) {
    println!("{value}");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = parse();
    let store = open_store(&args.store, Some(args.lease)).await;
    let client = OAuthClient::builder(PW_CLIENT)
        .auth(ClientAuth::None)
        .token_url(&args.token_url)
        .build()
        .expect("client");
    let managers: Vec<TokenManager> = (0..args.managers.max(1))
        .map(|_| {
            TokenManager::builder(
                client.clone(),
                Password::new(ALICE.0, SecretString::from(ALICE.1)),
            )
            .key(&args.key)
            .store(store.clone())
            .refresh_margin(args.margin)
            .lock_wait(args.lock_wait)
            .build()
            .expect("manager")
        })
        .collect();
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let once = args.mode == "once";
    let tasks: Vec<_> = (0..if once { 1 } else { args.tasks })
        .map(|i| {
            let manager = managers[i % managers.len()].clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut calls = 0u64;
                loop {
                    calls += 1;
                    match manager.authorization_header().await {
                        Ok(header) => {
                            seen.lock().unwrap().insert(fingerprint(header.as_bytes()));
                        }
                        Err(err) => report(json!({
                            "event": "error",
                            "invalid_grant": err.is_invalid_grant(),
                            "message": err.to_string(),
                        })),
                    }
                    if once || Instant::now() >= deadline {
                        return calls;
                    }
                    let pause = 5 + (calls * 7 + i as u64 * 13) % 30;
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            })
        })
        .collect();
    let mut calls = 0;
    for task in tasks {
        calls += task.await.expect("task");
    }
    let tokens: Vec<String> = seen.lock().unwrap().iter().cloned().collect();
    report(json!({
        "event": "done",
        "calls": calls,
        "tokens": tokens,
        "elapsed_ms": started.elapsed().as_millis() as u64,
    }));
}
