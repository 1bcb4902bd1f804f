//! The fast path on its own, for comparing two builds of latchkey (bench/fast_path_ab.sh):
//! `fast-path-ab MODE CALLS [THREADS]` prints `MODE: X ns/op` on stderr.
//!
//! MODE is `await` (awaited on a current-thread runtime, as `fast path, 1 task` in
//! bench/peers), `poll` (polled once, no runtime) or `all` (THREADS threads at once, one
//! runtime each, wall time per call over all threads, as `fast path, all cores`).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::FutureExt;
use latchkey::{ClientCredentials, MemoryStore, OAuthClient, TokenManager, TokenSet, TokenStore};
use secrecy::SecretString;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "await".into());
    let calls: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let threads: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let manager = runtime.block_on(primed_manager());

    let start = Instant::now();
    let total = match mode.as_str() {
        "poll" => {
            for _ in 0..calls {
                std::hint::black_box(manager.authorization_header().now_or_never());
            }
            calls
        }
        "await" => {
            runtime.block_on(async {
                for _ in 0..calls {
                    std::hint::black_box(manager.authorization_header().await.expect("header"));
                }
            });
            calls
        }
        "all" => {
            let gate = std::sync::Barrier::new(threads);
            std::thread::scope(|scope| {
                for _ in 0..threads {
                    let manager = manager.clone();
                    let gate = &gate;
                    scope.spawn(move || {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("runtime");
                        gate.wait();
                        runtime.block_on(async {
                            for _ in 0..calls {
                                std::hint::black_box(
                                    manager.authorization_header().await.expect("header"),
                                );
                            }
                        });
                    });
                }
            });
            calls * threads as u64
        }
        other => {
            eprintln!("unknown mode `{other}`: await, poll or all");
            std::process::exit(2);
        }
    };
    let ns = start.elapsed().as_nanos() as f64 / total as f64;
    eprintln!("{mode}: {ns:.2} ns/op");
}

/// A manager holding a token valid for an hour, as bench/peers primes it: no request is
/// ever sent (the token URL is unreachable on purpose).
async fn primed_manager() -> TokenManager {
    let store = Arc::new(MemoryStore::new());
    let now = SystemTime::now();
    let tokens = TokenSet::new(SecretString::from("a".repeat(43)), now)
        .with_expires_at(Some(now + Duration::from_secs(3600)));
    store.save("bench", &tokens).await.expect("save");
    let client = OAuthClient::builder("bench")
        .token_url("http://127.0.0.1:9/token")
        .build()
        .expect("client");
    let manager = TokenManager::builder(client, ClientCredentials::new())
        .key("bench")
        .store(store)
        .build()
        .expect("manager");
    manager.authorization_header().await.expect("primed");
    manager
}
