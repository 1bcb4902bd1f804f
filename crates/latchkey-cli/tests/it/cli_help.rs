//! The CLI's help for people: `--help` with examples and the global options apart, `-p`
//! only where a profile is used, man pages, and completions that know the profile names.
#![allow(
    clippy::disallowed_methods,
    reason = "tests write fixture files, bypassing the private-file helper"
)]

use crate::support::{World, snapshot, text};

fn write_profiles(world: &World, text: &str) {
    std::fs::create_dir_all(world.config.parent().unwrap()).unwrap();
    std::fs::write(&world.config, text).unwrap();
}

const TWO_PROFILES: &str = "default = \"alpha\"\n[profiles.alpha]\nauth = \"bearer\"\ntoken = { env = \"ALPHA_TOKEN\" }\n[profiles.beta]\nauth = \"basic\"\nusername = \"b\"\npassword = { env = \"BETA_PASSWORD\" }\n";

#[test]
fn token_help_lists_the_global_options_apart_and_examples() {
    let world = World::new();
    let out = world.cmd().args(["token", "--help"]).output().unwrap();
    let help = text(&out.stdout);
    assert!(help.contains("Global options:\n  -p, --profile"), "{help}");
    assert!(help.contains("Examples:\n  latchkey token\n"), "{help}");
    snapshot!(world, "token_help", out);
}

#[test]
fn top_level_help() {
    let world = World::new();
    let out = world.cmd().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!text(&out.stdout).contains("\n  man "), "`man` is hidden");
    snapshot!(world, "top_level_help", out);
}

#[test]
fn decode_help_offers_no_profile() {
    let world = World::new();
    let out = world.cmd().args(["decode", "--help"]).output().unwrap();
    let help = text(&out.stdout);
    assert!(!help.contains("--profile"), "{help}");
    assert!(help.contains("Global options:\n  -v, --verbose"), "{help}");
    snapshot!(world, "decode_help", out);
}

/// The same commands refuse `-p` after their name, and before it, where it would be
/// silently ignored.
#[test]
fn a_profile_is_refused_by_commands_that_use_none() {
    let world = World::new();
    for line in [
        &["completions", "bash", "-p", "alpha"][..],
        &["profile", "list", "-p", "alpha"],
        &["scheme", "check", "-", "--profile", "alpha"],
    ] {
        let out = world.cmd().args(line).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{line:?}");
        assert!(
            text(&out.stderr).contains("unexpected argument"),
            "{line:?}: {}",
            text(&out.stderr)
        );
    }
    let out = world
        .cmd()
        .args(["-p", "alpha", "decode", "e30.e30.x"])
        .output()
        .unwrap();
    snapshot!(world, "profile_before_decode", out);
}

/// `-p NAME` works before and after the commands that take it.
#[test]
fn profile_before_or_after_the_command() {
    let world = World::new();
    write_profiles(&world, TWO_PROFILES);
    for line in [
        &["-p", "beta", "header"][..],
        &["header", "-p", "beta"],
        &["-v", "header", "--profile", "beta"],
        &["status", "-p", "beta"],
    ] {
        let out = world
            .cmd()
            .args(line)
            .env("BETA_PASSWORD", "pw")
            .output()
            .unwrap();
        assert!(out.status.success(), "{line:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("beta")
                || text(&out.stdout).starts_with("Authorization: Basic"),
            "{line:?}"
        );
    }
    let out = world
        .cmd()
        .args(["-p", "alpha", "header", "-p", "beta"])
        .output()
        .unwrap();
    snapshot!(world, "two_profiles_given", out);
}

/// Every visible command's `--help` ends with 3 to 6 example lines, found by walking the
/// "Commands:" lists from the top (so a command added without examples fails here).
#[test]
fn every_command_has_examples() {
    let world = World::new();
    let mut pending = vec![Vec::<String>::new()];
    let mut seen = 0;
    while let Some(path) = pending.pop() {
        let out = world.cmd().args(&path).arg("--help").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{path:?}");
        let help = text(&out.stdout);
        let examples = help
            .split_once("\nExamples:\n")
            .unwrap_or_else(|| panic!("`latchkey {}` has no examples:\n{help}", path.join(" ")))
            .1;
        let lines = examples.lines().take_while(|l| l.starts_with("  ")).count();
        assert!(
            (3..=6).contains(&lines),
            "`latchkey {}`: {lines} example lines:\n{examples}",
            path.join(" ")
        );
        seen += 1;
        if let Some(commands) = help.split_once("\nCommands:\n") {
            for line in commands.1.lines().take_while(|l| l.starts_with("  ")) {
                let name = line.split_whitespace().next().unwrap();
                if name != "help" {
                    let mut sub = path.clone();
                    sub.push(name.to_owned());
                    pending.push(sub);
                }
            }
        }
    }
    assert!(seen >= 20, "walked only {seen} commands");
}

#[test]
fn man_pages_one_per_command() {
    let world = World::new();
    let dir = world.dir.path().join("man/man1");
    let out = world.cmd().arg("man").arg(&dir).output().unwrap();
    snapshot!(world, "man_pages", out);
    let page = std::fs::read_to_string(dir.join("latchkey-token.1")).unwrap();
    assert!(page.contains(".SH EXAMPLES"), "{page}");
    assert!(page.contains(".SH \"GLOBAL OPTIONS\""), "{page}");
    let decode = std::fs::read_to_string(dir.join("latchkey-decode.1")).unwrap();
    assert!(!decode.contains("profile"), "{decode}");
    snapshot!(world, "man_page_token", page);
}

/// The dynamic completer reads the profiles file when asked (as the registered script asks).
#[test]
fn completion_offers_the_profile_names() {
    let world = World::new();
    write_profiles(&world, TWO_PROFILES);
    let complete = |words: &[&str]| {
        world
            .cmd()
            .env("COMPLETE", "fish")
            .args(["--", "latchkey"])
            .args(words)
            .output()
            .unwrap()
    };
    let out = complete(&["token", "-p", ""]);
    snapshot!(world, "complete_token_profile", out);
    let login = text(&complete(&["login", ""]).stdout);
    assert!(login.starts_with("alpha\nbeta\n"), "{login}");
    let rename = text(&complete(&["profile", "rename", "b"]).stdout);
    assert_eq!(rename, "beta\n");
    let decode = text(&complete(&["decode", "-"]).stdout);
    assert!(!decode.contains("--profile"), "{decode}");
}

/// The script `completions bash` prints, sourced into a real bash, completes profile names
/// by calling `latchkey` on the PATH.
#[cfg(unix)]
#[test]
fn bash_completion_script_completes_profile_names() {
    let Ok(bash) = which("bash") else {
        eprintln!("bash not found; skipped");
        return;
    };
    let world = World::new();
    write_profiles(&world, TWO_PROFILES);
    let script = world.dir.path().join("latchkey.bash");
    let out = world.cmd().args(["completions", "bash"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    std::fs::write(&script, &out.stdout).unwrap();
    let bin_dir = world.dir.path().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::os::unix::fs::symlink(crate::support::bin(), bin_dir.join("latchkey")).unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new(bash)
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(latchkey token -p b); COMP_CWORD=3; COMP_LINE='latchkey token -p b'; COMP_POINT=${{#COMP_LINE}}; COMP_TYPE=9; \
             \"$(complete -p latchkey | sed -E 's/.* -F ([^ ]+) .*/\\1/')\" latchkey b -p; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .env("PATH", path)
        .env("LATCHKEY_CONFIG", &world.config)
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "beta\n", "{}", text(&out.stderr));
}

#[cfg(unix)]
fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|dir| std::path::Path::new(dir).join(program))
        .find(|p| p.is_file())
        .ok_or(())
}
