//! `latchkey`: authenticate HTTP API clients from the shell.
//!
//! Two steps, as in ripgrep: [`args`] is what clap parses; [`plan`] validates it into a
//! [`plan::Plan`]; [`commands`] run plans and never see clap types. Data goes to stdout,
//! everything else (progress, logs, errors) to stderr. Exit codes are in [`error::code`].

mod args;
mod commands;
mod completion;
mod context;
mod error;
mod help;
mod link;
mod man;
mod output;
mod plan;
mod quick;
mod style;
mod when;
mod wire;

use std::process::ExitCode;

use clap::FromArgMatches;

use crate::error::CliError;

fn main() -> ExitCode {
    // A completion request (the script `completions SHELL` prints) is answered and exits here.
    clap_complete::env::CompleteEnv::with_factory(help::command)
        .var(completion::VAR)
        .complete();
    let plan = match quick::plan(std::env::args_os().skip(1)) {
        Some(plan) => Ok(plan),
        None => match help::command()
            .try_get_matches()
            .and_then(|matches| args::Cli::from_arg_matches(&matches))
        {
            Ok(cli) => plan::Plan::from_cli(cli),
            Err(err) => {
                // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
                let code = err.exit_code();
                let _ = err.print();
                return ExitCode::from(u8::try_from(code).unwrap_or(error::code::USAGE));
            }
        },
    };
    let result = plan.and_then(run);
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            err.print();
            ExitCode::from(err.code)
        }
    }
}

fn run(plan: plan::Plan) -> Result<u8, CliError> {
    init_logging(&plan);
    let ctx = context::Ctx::new(plan.profile)?;
    if let Some(answered) = commands::run_from_store(&ctx, &plan.command) {
        return answered;
    }
    // One thread is plenty for a CLI, and starts fastest (`latchkey token` is called by
    // scripts in loops).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            CliError::new(
                error::code::OTHER,
                format!("cannot start the async runtime: {e}"),
            )
        })?;
    runtime.block_on(commands::run(&ctx, plan.command))
}

/// Logs go to stderr: latchkey's own at the level asked for (the transport libraries' only
/// from -vvv), and, with `--debug-http` or -vv, the exchanges with the identity provider as
/// plain blocks (the library renders them, secrets masked).
fn init_logging(plan: &plan::Plan) {
    use tracing::level_filters::LevelFilter;
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let level = if plan.quiet {
        LevelFilter::OFF
    } else {
        LevelFilter::from_level(plan.log_level)
    };
    let others = if plan.log_level >= tracing::Level::TRACE {
        level
    } else {
        LevelFilter::WARN.min(level)
    };
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .with_target(plan.log_level > tracing::Level::INFO)
        .without_time()
        .with_filter(
            Targets::new()
                .with_default(others)
                .with_target("latchkey", level)
                .with_target("latchkey_reqwest", level)
                .with_target(latchkey::HTTP_TRACE_TARGET, LevelFilter::OFF),
        );
    let exchanges = plan.debug_http.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .with_level(false)
            .with_target(false)
            .without_time()
            .with_filter(
                Targets::new().with_target(latchkey::HTTP_TRACE_TARGET, LevelFilter::DEBUG),
            )
    });
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(exchanges)
        .try_init();
}
