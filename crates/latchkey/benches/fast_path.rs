//! The token manager's fast path: a header for a valid, cached token.
//!
//! Run with `cargo bench -p latchkey --bench fast_path`. The manager is primed from a
//! memory store holding a valid token set, so no identity provider is involved: what is
//! measured is exactly what every API request pays.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use futures::FutureExt;
use latchkey::{
    ClientCredentials, MemoryStore, OAuthClient, SecretString, TokenManager, TokenSet, TokenStore,
};

fn primed_manager(rt: &tokio::runtime::Runtime) -> TokenManager {
    rt.block_on(async {
        let store = Arc::new(MemoryStore::new());
        let tokens = TokenSet::new(SecretString::from("a".repeat(40)), SystemTime::now())
            .with_expires_at(Some(SystemTime::now() + Duration::from_secs(24 * 3600)));
        store.save("bench", &tokens).await.unwrap();
        let client = OAuthClient::builder("bench")
            .token_url("http://127.0.0.1:9/token")
            .build()
            .unwrap();
        let manager = TokenManager::builder(client, ClientCredentials::new())
            .key("bench")
            .store(store)
            .build()
            .unwrap();
        // The first call loads the store; every later call is the fast path.
        manager.authorization_header().await.unwrap();
        manager
    })
}

fn fast_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let manager = primed_manager(&rt);

    c.bench_function("authorization_header (valid token, polled once)", |b| {
        // `now_or_never` polls the future once: the fast path completes without a runtime.
        b.iter(|| {
            std::hint::black_box(
                manager
                    .authorization_header()
                    .now_or_never()
                    .unwrap()
                    .unwrap(),
            )
        })
    });
    c.bench_function("cached_header (sync fast path)", |b| {
        b.iter(|| std::hint::black_box(manager.cached_header().unwrap()))
    });

    // All cores at once: contention on the shared handle.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    c.bench_function(
        &format!("authorization_header x{threads} threads (per call)"),
        |b| {
            b.iter_custom(|iters| {
                let per_thread = iters / threads as u64 + 1;
                let start = std::time::Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..threads {
                        let manager = manager.clone();
                        s.spawn(move || {
                            for _ in 0..per_thread {
                                std::hint::black_box(
                                    manager
                                        .authorization_header()
                                        .now_or_never()
                                        .unwrap()
                                        .unwrap(),
                                );
                            }
                        });
                    }
                });
                // Wall time per call across all threads: throughput, the number that matters.
                start.elapsed() / threads as u32
            })
        },
    );
}

/// What any fast path that hands out an owned `Authorization` value and checks the token's
/// time must pay at least: one clone (and the caller's drop) of the header, one clock read.
/// The clock is read here through the public `Clock::now_coarse`, which also builds a
/// `SystemTime`; the fast path reads the coarse clock directly, for about half as much.
fn floor(c: &mut Criterion) {
    let tokens = TokenSet::new(SecretString::from("a".repeat(40)), SystemTime::now());
    let header = tokens.authorization_header().unwrap();
    c.bench_function("floor: clone and drop the header", |b| {
        b.iter(|| std::hint::black_box(header.clone()))
    });
    let clock = latchkey::SystemClock;
    c.bench_function("floor: coarse clock read through Clock::now_coarse", |b| {
        b.iter(|| std::hint::black_box(latchkey::Clock::now_coarse(&clock)))
    });
}

criterion_group!(benches, fast_path, floor);
criterion_main!(benches);
