//! Man pages from the command tree: one per command (`latchkey.1`, `latchkey-token.1`,
//! `latchkey-profile-add.1`, …), each with the examples `--help` shows.

use std::path::{Path, PathBuf};

use clap::Command;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, roman};

use crate::error::{CliError, code};

/// Writes a page per visible command into `dir` (created if missing); returns the files.
pub(crate) fn write_all(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    std::fs::create_dir_all(dir).map_err(|e| write_error(dir, &e))?;
    let mut cmd = crate::help::command().disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    write_tree(&cmd, "latchkey", dir, &mut written)?;
    Ok(written)
}

fn write_tree(
    cmd: &Command,
    path: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<(), CliError> {
    let file = dir.join(format!("{}.1", path.replace(' ', "-")));
    write_page(
        &file,
        &render(cmd.clone(), path).map_err(|e| write_error(&file, &e))?,
    )?;
    written.push(file);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_tree(sub, &format!("{path} {}", sub.get_name()), dir, written)?;
    }
    Ok(())
}

/// clap_mangen's page, then the examples under EXAMPLES (clap_mangen would put the help's
/// trailing text, unformatted, under a section called EXTRA).
fn render(cmd: Command, path: &str) -> std::io::Result<Vec<u8>> {
    // Every page's footer names the program and its version, not the subcommand.
    let man = Man::new(cmd.after_help(None::<&str>))
        .source(format!("latchkey {}", env!("CARGO_PKG_VERSION")));
    let mut page = Vec::new();
    man.render(&mut page)?;
    if let Some(lines) = crate::help::examples(path) {
        let mut roff = Roff::new();
        roff.control("SH", ["EXAMPLES"]).control("nf", []);
        for line in lines {
            roff.text([roman(*line)]);
        }
        roff.control("fi", []);
        roff.to_writer(&mut page)?;
    }
    Ok(page)
}

#[allow(
    clippy::disallowed_methods,
    reason = "man pages are public documentation, not secrets: readable by all like any installed page"
)]
fn write_page(file: &Path, page: &[u8]) -> Result<(), CliError> {
    std::fs::write(file, page).map_err(|e| write_error(file, &e))
}

fn write_error(path: &Path, e: &std::io::Error) -> CliError {
    CliError::new(code::OTHER, format!("cannot write {}: {e}", path.display()))
}
