//! The profiles file (`profiles.toml`) as the CLI and `latchkey::profile` read it: TOML
//! syntax, the documented fields, error positions (line/column from a byte offset).
#![no_main]

use std::path::Path;

use latchkey::profile::ProfilesFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match ProfilesFile::parse(Path::new("profiles.toml"), text) {
        Ok(file) => {
            let _ = file.names();
            let _ = format!("{file:?}");
        }
        Err(err) => {
            let _ = err.to_string();
            let _ = err.hint();
        }
    }
});
