//! `scheme check FILE`.

use std::path::Path;

use latchkey::AuthScheme;

use crate::error::CliError;
use crate::output;

/// Validates a JSON file of one scheme or an array; prints one line per scheme.
pub(super) async fn check(file: &Path) -> Result<(), CliError> {
    let text = if file == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    }
    .map_err(|e| CliError::usage(format!("cannot read {}: {e}", file.display())))?;
    let schemes = AuthScheme::list_from_json(&text).map_err(|e| {
        let mut err = CliError::from(e);
        err.message = format!("{}: {}", file.display(), err.message);
        err
    })?;
    let mut out = String::new();
    for (i, scheme) in schemes.iter().enumerate() {
        // Building the authenticator checks header names and the token URL too.
        scheme.authenticator().await.map_err(|e| {
            let mut err = CliError::from(e);
            err.message = format!("{} (scheme {}): {}", file.display(), i + 1, err.message);
            err
        })?;
        out.push_str(&format!("ok: {}\n", scheme.type_name()));
    }
    output::print(&out)
}
