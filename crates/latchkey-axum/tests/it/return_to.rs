//! `safe_return_to` against generated paths: whatever it accepts stays on the application's
//! origin when a browser resolves it (WHATWG URL parsing, the `url` crate).

use latchkey_axum::safe_return_to;
use proptest::prelude::*;
use url::{Position, Url};

/// Pieces that make redirects leave a site: dot segments (plain and encoded), doubled and
/// encoded slashes, backslashes, schemes, userinfo, control characters and whitespace.
fn piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "/",
        "//",
        "\\",
        ".",
        "..",
        "%2e",
        "%2E",
        "%2f",
        "%2F",
        "%5c",
        "%5C",
        "%00",
        "%0a",
        "evil.example",
        "a",
        "?",
        "#",
        "@",
        ":",
        "https:",
        "javascript:",
        "\t",
        "\n",
        "\r",
        " ",
        "\u{0}",
        "\u{7f}",
        "\u{a0}",
        "\u{3000}",
        "é",
        "%",
        "~",
        "&",
        "=",
    ])
}

/// Mostly inputs that start like a path, so that many are accepted and checked.
fn candidate() -> impl Strategy<Value = String> {
    let first = prop_oneof![3 => Just("/"), 1 => piece()];
    (first, prop::collection::vec(piece(), 0..10))
        .prop_map(|(first, rest)| format!("{first}{}", rest.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn finding_return_to_accepted_paths_stay_on_the_origin(raw in candidate()) {
        let base = Url::parse("https://app.example/").unwrap();
        if let Ok(accepted) = safe_return_to(&raw) {
            let resolved = base.join(&accepted).unwrap();
            prop_assert_eq!(resolved.origin(), base.origin(), "{:?} -> {}", raw, resolved);
            // A path starting with `//` is one careless relative redirect away from the
            // host in it.
            prop_assert!(!resolved.path().starts_with("//"), "{:?} -> {}", raw, resolved);
            // What is returned is what the browser ends up at: nothing left to normalise.
            prop_assert_eq!(&resolved[Position::BeforePath..], accepted.as_str());
        }
    }
}

#[test]
fn finding_return_to_dot_segments_are_refused_and_paths_normalised() {
    for evil in [
        "/.//evil.example",
        "/..//evil.example",
        "/%2e%2e//evil.example",
    ] {
        assert!(safe_return_to(evil).is_err(), "{evil:?} was accepted");
    }
    assert_eq!(safe_return_to("/a/./b/../c?x=1#f").unwrap(), "/a/c?x=1#f");
}
