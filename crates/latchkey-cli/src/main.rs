//! `latchkey`: authenticate HTTP API clients from the shell.
//!
//! Two steps, as in ripgrep: [`args`] is what clap parses; [`plan`] validates it into a
//! [`plan::Plan`]; [`commands`] run plans and never see clap types. Data goes to stdout,
//! everything else (progress, logs, errors) to stderr. Exit codes are in [`error::code`].

mod args;
mod commands;
mod context;
mod error;
mod output;
mod plan;
mod quick;
mod style;
mod when;
mod wire;

use std::process::ExitCode;

use clap::Parser;

use crate::error::CliError;

fn main() -> ExitCode {
    let plan = match quick::plan(std::env::args_os().skip(1)) {
        Some(plan) => Ok(plan),
        None => match args::Cli::try_parse() {
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

fn init_logging(plan: &plan::Plan) {
    if plan.quiet {
        return;
    }
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(plan.log_level)
        .with_ansi(color)
        .with_target(plan.log_level > tracing::Level::INFO)
        .without_time()
        .init();
}
