//! A stampede at expiry: 10,000 tasks ask for a header at the same moment.
//!
//! Run with `cargo bench -p latchkey --bench stampede`. Starts the bundled identity provider
//! fixture, lets the token expire (manual clock) and releases 10,000 tasks at once; prints the
//! wall time until all are served and the number of token requests the provider saw.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey::{
    ClientAuth, ClientCredentials, ManualClock, OAuthClient, SecretString, TokenManager,
};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::SVC_BASIC;

const TASKS: usize = 10_000;
const ROUNDS: usize = 5;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs a quick smoke round.
    let quick = !std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let idp = Idp::start().await;
        let clock = Arc::new(ManualClock::new());
        let client = OAuthClient::builder(SVC_BASIC.0)
            .auth(ClientAuth::SecretBasic(SecretString::from(SVC_BASIC.1)))
            .token_url(idp.token_url())
            .clock(clock.clone())
            .build()
            .expect("client");
        let manager = TokenManager::builder(client, ClientCredentials::new()).build().expect("manager");
        manager.authorization_header().await.expect("first token");
        let (tasks, rounds) = if quick { (100, 1) } else { (TASKS, ROUNDS) };
        for round in 1..=rounds {
            clock.advance(Duration::from_secs(3601));
            let before = idp.counters().await.token("client_credentials");
            let started = Instant::now();
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    let manager = manager.clone();
                    tokio::spawn(async move { manager.authorization_header().await.map(drop) })
                })
                .collect();
            for handle in handles {
                handle.await.expect("task").expect("header");
            }
            let elapsed = started.elapsed();
            let requests = idp.counters().await.token("client_credentials") - before;
            println!(
                "stampede round {round}: {tasks} tasks served in {:.2} ms ({:.0} ns/task), {requests} token request(s) at the IdP",
                elapsed.as_secs_f64() * 1e3,
                elapsed.as_nanos() as f64 / tasks as f64
            );
            assert_eq!(requests, 1, "a stampede must cost exactly one token request");
        }
    });
}
