//! Scale figures for the shared token stores (single Redis, a three-master Redis Cluster,
//! and for comparison the file and SQLite stores), measured in one run on one machine
//! against the real IdP fixture. `bench/redis_scale.sh` runs it; `docs/bench.md` ("Redis at
//! scale") explains each figure.
//!
//! ```text
//! latchkey-redis-scale [--quick]                 measure everything, JSON lines on stdout
//! latchkey-redis-scale worker tokens <store> <token-url> <key-prefix> <keys> <tasks-per-key> <seconds> <margin-ms>
//! latchkey-redis-scale worker handover <store> <key> <seconds> <hold-ms> <rest-ms>
//! store: file:<dir> | sqlite:<path> | redis:<url> | redis-cluster:<url> (and memory, in-process)
//! ```
//!
//! Without `worker`, the program starts the fixtures and this same executable as worker
//! processes, and prints one JSON line per measurement (store, measure, figures). The
//! `worker` roles are those processes: `tokens` asks for `Authorization` headers of many
//! keys in a loop and reports the distinct access tokens it saw per key; `handover` takes
//! and releases one refresh lock in a loop and reports when it asked, got and let go.
#![allow(
    clippy::print_stdout,
    reason = "stdout is how the measurements and the workers' reports leave this program"
)]

mod run;
mod stats;
mod worker;

use std::process::ExitCode;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("worker") => worker::main(&args[1..]).await,
        None | Some("--quick") => run::main(!args.is_empty()).await,
        Some(other) => {
            eprintln!(
                "unknown argument `{other}`; usage: latchkey-redis-scale [--quick] (see the module docs for `worker`)"
            );
            ExitCode::from(2)
        }
    }
}
