//! `scheme check FILE`.

use std::path::Path;

use latchkey::{AuthScheme, SchemeEntry};

use crate::error::CliError;
use crate::output;

/// Validates a JSON file of one entry or an array, each an auth scheme or a whole DHIS2
/// route; prints one line per entry.
pub(super) async fn check(file: &Path) -> Result<(), CliError> {
    let text = if file == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    }
    .map_err(|e| CliError::usage(format!("cannot read {}: {e}", file.display())))?;
    let entries = AuthScheme::entries_from_json(&text).map_err(|e| {
        let mut err = CliError::from(e);
        err.message = format!("{}: {}", file.display(), err.message);
        err
    })?;
    let mut out = String::new();
    for (i, entry) in entries.iter().enumerate() {
        let (label, scheme) = match entry {
            SchemeEntry::Scheme(scheme) => (String::new(), Some(scheme)),
            SchemeEntry::Route { name, scheme } => (
                format!("route `{}`: ", name.as_deref().unwrap_or("(unnamed)")),
                scheme.as_ref(),
            ),
            _ => (String::new(), None),
        };
        let Some(scheme) = scheme else {
            out.push_str(&format!("ok: {label}no auth\n"));
            continue;
        };
        // Building the authenticator checks header names and the token URL too, and that
        // no field is missing (a route read back from DHIS2 lacks its secrets).
        scheme.authenticator().await.map_err(|e| {
            let mut err = CliError::from(e);
            err.message = format!("{} (entry {}): {}", file.display(), i + 1, err.message);
            err
        })?;
        out.push_str(&format!("ok: {label}{}\n", scheme.type_name()));
    }
    output::print(&out)
}
