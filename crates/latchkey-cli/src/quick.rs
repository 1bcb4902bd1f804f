//! The few command lines scripts run in loops (`latchkey token`, `latchkey header -p NAME`),
//! read without clap.
//!
//! Building clap's command tree allocates every argument of every subcommand, a large share
//! of a cold `latchkey token` (docs/bench.md has the measurement). Only the
//! simplest spellings are read here; anything else, including every mistake, returns
//! `None` and goes to clap, which owns the messages and the help. The tests check that each
//! spelling read here gives exactly the plan clap's path gives.

use std::ffi::OsString;

use crate::plan::{Cmd, Plan};

/// The plan for `token` or `header` with at most `-q`/`--quiet` and one
/// `-p NAME`/`--profile NAME`/`--profile=NAME`, in any order; `None` for anything else.
pub(crate) fn plan(args: impl IntoIterator<Item = OsString>) -> Option<Plan> {
    let mut args = args.into_iter();
    let mut command = None;
    let mut profile = None;
    let mut quiet = false;
    while let Some(arg) = args.next() {
        let arg = arg.into_string().ok()?;
        match arg.as_str() {
            "token" | "header" if command.is_none() => {
                command = Some(if arg == "token" {
                    Cmd::Token
                } else {
                    Cmd::Header
                });
            }
            "-q" | "--quiet" if !quiet => quiet = true,
            "-p" | "--profile" if profile.is_none() => {
                profile = Some(profile_name(args.next()?.into_string().ok()?)?);
            }
            _ => {
                let name = arg.strip_prefix("--profile=")?;
                if profile.is_some() {
                    return None;
                }
                profile = Some(profile_name(name.to_owned())?);
            }
        }
    }
    Some(Plan {
        profile,
        log_level: tracing::Level::WARN,
        quiet,
        debug_http: false,
        command: command?,
    })
}

/// A value clap would take as a profile name without comment: not empty, not an option.
fn profile_name(name: String) -> Option<String> {
    (!name.is_empty() && !name.starts_with('-')).then_some(name)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::Cli;

    fn quick(line: &[&str]) -> Option<Plan> {
        plan(line.iter().map(OsString::from))
    }

    fn via_clap(line: &[&str]) -> Option<Plan> {
        let cli = Cli::try_parse_from(std::iter::once("latchkey").chain(line.iter().copied()));
        Plan::from_cli(cli.ok()?).ok()
    }

    #[test]
    fn every_spelling_read_here_plans_what_clap_plans() {
        let lines: &[&[&str]] = &[
            &["token"],
            &["header"],
            &["-q", "token"],
            &["token", "--quiet"],
            &["-p", "prod", "token"],
            &["token", "--profile", "prod"],
            &["--profile=prod", "header"],
            &["header", "-q", "-p", "a.b_c"],
            &["-p", "token", "header"],
            &["token", "-p", "header"],
        ];
        for line in lines {
            let quick = quick(line).unwrap_or_else(|| panic!("{line:?} should be read quickly"));
            let clap = via_clap(line).unwrap_or_else(|| panic!("clap rejects {line:?}"));
            assert_eq!(format!("{quick:?}"), format!("{clap:?}"), "{line:?}");
        }
    }

    #[test]
    fn everything_else_goes_to_clap() {
        let lines: &[&[&str]] = &[
            &[],
            &["status"],
            &["token", "header"],
            &["token", "token"],
            &["token", "extra"],
            &["token", "--help"],
            &["-v", "token"],
            &["-qv", "token"],
            &["-pprod", "token"],
            &["token", "-p"],
            &["token", "-p", "-q"],
            &["token", "--profile="],
            &["token", "-p", "a", "-p", "b"],
            &["token", "-p", "a", "--profile=b"],
            &["token", "-q", "-q"],
            &["--", "token"],
            &["Token"],
        ];
        for line in lines {
            assert!(quick(line).is_none(), "{line:?} must be left to clap");
        }
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_arguments_go_to_clap() {
        use std::os::unix::ffi::OsStringExt;
        let odd = OsString::from_vec(vec![b'p', 0xff]);
        assert!(plan([OsString::from("token"), OsString::from("-p"), odd]).is_none());
    }
}
