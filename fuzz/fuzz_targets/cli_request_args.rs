//! The `latchkey request` arguments `-H Name: value` and `-d body|@file|@-`, from the CLI's
//! own file, included as it is. Input: `<header>\n<data>`.
#![no_main]

#[path = "../../crates/latchkey-cli/src/wire.rs"]
#[allow(
    dead_code,
    reason = "the CLI's test module and unused parsers come along"
)]
mod wire;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (header, body) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok((name, value)) = wire::header_argument(header) {
        // What is sent is what was typed, trimmed: the name and value come from either side
        // of the first colon.
        let (typed_name, typed_value) =
            header.split_once(':').expect("accepted, so it has a colon");
        assert!(name.as_str().eq_ignore_ascii_case(typed_name.trim()));
        assert_eq!(value.as_bytes(), typed_value.trim().as_bytes());
    }
    match wire::body_source(body) {
        wire::BodySource::Stdin => assert_eq!(body, "@-"),
        wire::BodySource::File(path) => assert_eq!(format!("@{path}"), body),
        wire::BodySource::Text(t) => assert!(t == body && !t.starts_with('@')),
    }
});
