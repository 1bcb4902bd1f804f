//! The command tree clap parses with: the definitions in `args.rs`, each command given an
//! "Examples:" section after its options. The same tree feeds `--help`, the man pages and
//! shell completion, so all three show the same commands and examples.

use clap::{Command, CommandFactory};

use crate::args::Cli;

/// The whole command tree, with examples.
pub(crate) fn command() -> Command {
    with_examples(Cli::command(), "latchkey")
}

/// The example lines of the command at `path` (`latchkey profile add`), if it has any.
pub(crate) fn examples(path: &str) -> Option<&'static [&'static str]> {
    EXAMPLES
        .iter()
        .find(|(at, _)| *at == path)
        .map(|(_, lines)| *lines)
}

fn with_examples(mut cmd: Command, path: &str) -> Command {
    if let Some(lines) = examples(path) {
        let header = cmd.get_styles().get_header();
        let mut text = format!("{header}Examples:{header:#}\n");
        for line in lines {
            text.push_str("  ");
            text.push_str(line);
            text.push('\n');
        }
        cmd = cmd.after_help(text);
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    for name in names {
        let sub_path = format!("{path} {name}");
        cmd = cmd.mut_subcommand(&name, |sub| with_examples(sub, &sub_path));
    }
    cmd
}

/// Every visible command's examples, keyed by its full name: real lines a user can paste
/// (after adapting names and URLs). A test checks that no command lacks them.
const EXAMPLES: &[(&str, &[&str])] = &[
    (
        "latchkey",
        &[
            "latchkey profile add svc --auth client-credentials --issuer https://idp.example.org \\",
            "    --client-id svc --client-secret-env SVC_SECRET --default",
            "latchkey token",
            "curl -H \"$(latchkey header)\" https://api.example.org/things",
            "latchkey -p me login --device",
        ],
    ),
    (
        "latchkey profile",
        &[
            "latchkey profile list",
            "latchkey profile show svc",
            "latchkey profile default svc",
            "latchkey profile rename svc prod-svc",
        ],
    ),
    (
        "latchkey profile add",
        &[
            "latchkey profile add svc --auth client-credentials --issuer https://idp.example.org \\",
            "    --client-id svc --client-secret-env SVC_SECRET --scope api:read --default",
            "latchkey profile add me --auth device-code --from-discovery https://idp.example.org --client-id cli",
            "latchkey profile add d2 --auth api-token --token-env DHIS2_PAT --base-url https://play.dhis2.org",
            "latchkey profile add ci --auth bearer --token-env CI_TOKEN --project",
        ],
    ),
    (
        "latchkey profile list",
        &[
            "latchkey profile list",
            "cd ~/src/project && latchkey profile list",
            "LATCHKEY_CONFIG=./profiles.toml latchkey profile list",
        ],
    ),
    (
        "latchkey profile show",
        &[
            "latchkey profile show",
            "latchkey profile show svc",
            "latchkey profile show -p svc",
        ],
    ),
    (
        "latchkey profile remove",
        &[
            "latchkey profile remove old-svc",
            "latchkey profile remove ci --project",
            "latchkey logout me --revoke && latchkey profile remove me",
        ],
    ),
    (
        "latchkey profile default",
        &[
            "latchkey profile default svc",
            "latchkey profile default ci --project",
            "latchkey profile default prod && latchkey token",
        ],
    ),
    (
        "latchkey profile rename",
        &[
            "latchkey profile rename svc prod-svc",
            "latchkey profile rename ci ci-staging --project",
            "latchkey profile rename staging prod && latchkey status -p prod",
        ],
    ),
    (
        "latchkey profile set",
        &[
            "latchkey profile set svc scopes \"api:read api:write\"",
            "latchkey profile set svc client_secret env:SVC_SECRET",
            "latchkey profile set svc headers.X-Tenant literal:acme",
        ],
    ),
    (
        "latchkey profile unset",
        &[
            "latchkey profile unset svc scopes",
            "latchkey profile unset svc headers.X-Tenant",
            "latchkey profile unset ci base_url --project",
        ],
    ),
    (
        "latchkey profile edit",
        &[
            "latchkey profile edit svc",
            "EDITOR=nano latchkey profile edit svc",
            "latchkey profile edit ci --project",
        ],
    ),
    (
        "latchkey profile trust",
        &[
            "cat .latchkey/profiles.toml      # read it first: it decides where credentials go",
            "latchkey profile trust",
            "latchkey profile list",
        ],
    ),
    (
        "latchkey profile verify",
        &[
            "latchkey profile verify",
            "latchkey profile verify d2",
            "latchkey profile verify svc --url /api/health",
        ],
    ),
    (
        "latchkey login",
        &[
            "latchkey login",
            "latchkey login me --device",
            "latchkey login me --no-browser",
            "BROWSER=w3m latchkey login me",
            "echo 123456 | latchkey login alice --totp",
            "latchkey login me --acr-values urn:example:mfa --max-age 300   # step-up",
        ],
    ),
    (
        "latchkey token",
        &[
            "latchkey token",
            "latchkey token -p svc",
            "export TOKEN=\"$(latchkey -p svc token)\"",
            "latchkey token -p mcp --resource https://mcp.example.org",
        ],
    ),
    (
        "latchkey header",
        &[
            "latchkey header",
            "curl -H \"$(latchkey header -p svc)\" https://api.example.org/things",
            "wget --header \"$(latchkey header)\" https://api.example.org/things",
        ],
    ),
    (
        "latchkey proof",
        &[
            "latchkey proof --method GET --url https://api.example.org/things",
            "latchkey proof -p svc -X POST --url https://api.example.org/things --json",
            "U=https://api.example.org/things; latchkey proof -X GET --url $U | curl -H @- $U",
        ],
    ),
    (
        "latchkey status",
        &[
            "latchkey status",
            "latchkey status --all",
            "latchkey status -p me --json",
            "latchkey status --json | jq -r .expires_at",
        ],
    ),
    (
        "latchkey logout",
        &[
            "latchkey logout",
            "latchkey logout me",
            "latchkey logout me --revoke",
        ],
    ),
    (
        "latchkey introspect",
        &[
            "latchkey introspect",
            "latchkey introspect --refresh-token -p me",
            "latchkey introspect --json | jq .scope",
        ],
    ),
    (
        "latchkey request",
        &[
            "latchkey request GET /api/me",
            "latchkey request POST /things -H 'Content-Type: application/json' -d '{\"name\":\"x\"}'",
            "latchkey request GET https://other.example.org/x --allow-other-host",
            "latchkey request -i GET /api/me                 # status and headers too",
            "latchkey request GET /api/items --paginate -o items.json",
            "latchkey request PUT /things/1 -d @thing.json -p mcp --resource https://mcp.example.org",
        ],
    ),
    (
        "latchkey exec",
        &[
            "latchkey exec -- sh -c 'curl -H \"Authorization: Bearer $LATCHKEY_TOKEN\" https://api.example.org'",
            "latchkey exec -p svc -- ./deploy.sh",
            "latchkey exec -- env | grep LATCHKEY_",
        ],
    ),
    (
        "latchkey decode",
        &[
            "latchkey decode eyJhbGciOi...",
            "latchkey token | latchkey decode -",
            "latchkey decode - < id_token.jwt | jq .payload.exp_utc",
        ],
    ),
    (
        "latchkey doctor",
        &[
            "latchkey doctor",
            "latchkey doctor -p me",
            "latchkey doctor -p me -v",
        ],
    ),
    (
        "latchkey credential",
        &[
            "git config --global credential.https://git.example.org.helper '!latchkey -p git credential git'",
            "latchkey credential kubectl -p k8s",
            "printf 'protocol=https\\nhost=git.example.org\\n\\n' | latchkey credential git get -p git",
        ],
    ),
    (
        "latchkey credential git",
        &[
            "latchkey credential git setup -p git            # this repository's git config",
            "latchkey credential git setup --global -p git   # every repository",
            "printf 'protocol=https\\nhost=git.example.org\\n\\n' | latchkey credential git get -p git",
            "git clone https://git.example.org/team/repo.git",
        ],
    ),
    (
        "latchkey credential kubectl",
        &[
            "latchkey credential kubectl -p k8s",
            "latchkey credential kubectl --print-kubeconfig -p k8s   # the users: entry to paste",
            "kubectl config set-credentials me --exec-api-version=client.authentication.k8s.io/v1 \\",
            "    --exec-command=latchkey --exec-arg=-p,k8s,credential,kubectl",
        ],
    ),
    (
        "latchkey completions",
        &[
            "latchkey completions bash > ~/.local/share/bash-completion/completions/latchkey",
            "latchkey completions zsh > \"${fpath[1]}/_latchkey\"",
            "latchkey completions fish > ~/.config/fish/completions/latchkey.fish",
            "echo 'source <(latchkey completions bash)' >> ~/.bashrc",
        ],
    ),
    (
        "latchkey scheme",
        &[
            "latchkey scheme check scheme.json",
            "latchkey scheme check routes.json",
            "latchkey request GET /api/routes -p d2 | jq .routes | latchkey scheme check -",
        ],
    ),
    (
        "latchkey scheme check",
        &[
            "latchkey scheme check scheme.json",
            "latchkey scheme check routes.json",
            "latchkey request GET /api/routes/r1 -p d2 | latchkey scheme check -",
        ],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks clap's tree: every visible command has 3 to 6 example lines, and every entry
    /// of the table names a command that exists.
    #[test]
    fn every_visible_command_has_examples() {
        fn walk(cmd: &Command, path: &str, seen: &mut Vec<String>) {
            let lines = examples(path).unwrap_or_else(|| panic!("`{path}` has no examples"));
            assert!(
                (3..=6).contains(&lines.len()),
                "`{path}`: {} lines",
                lines.len()
            );
            let help = cmd.clone().render_long_help().to_string();
            assert!(help.contains("Examples:"), "`{path}` --help:\n{help}");
            seen.push(path.to_owned());
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                walk(sub, &format!("{path} {}", sub.get_name()), seen);
            }
        }
        let mut cmd = command().disable_help_subcommand(true);
        cmd.build();
        let mut seen = Vec::new();
        walk(&cmd, "latchkey", &mut seen);
        for (path, _) in EXAMPLES {
            assert!(
                seen.iter().any(|s| s == path),
                "examples for a missing command `{path}`"
            );
        }
    }

    #[test]
    fn the_tree_passes_clap_checks() {
        command().debug_assert();
    }
}
