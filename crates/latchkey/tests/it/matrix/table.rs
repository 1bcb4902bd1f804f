//! The matrix table in `docs/interop.md` is generated from `latchkey_testkit::matrix`, the
//! data the matrix tests obey: this test fails when the two differ, and
//! `LATCHKEY_UPDATE_MATRIX=1` writes the current table between the markers.

use std::path::PathBuf;

const BEGIN: &str = "<!-- matrix:begin (generated: LATCHKEY_UPDATE_MATRIX=1 cargo test -p latchkey --all-features --test it -- matrix::table) -->\n";
const END: &str = "<!-- matrix:end -->";

fn interop_md() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/interop.md")
}

#[test]
#[expect(
    clippy::disallowed_methods,
    reason = "the project's own documentation, not token state"
)]
fn the_table_in_the_docs_is_current() {
    let path = interop_md();
    let text = std::fs::read_to_string(&path).expect("docs/interop.md");
    let start = text
        .find(BEGIN)
        .expect("the matrix:begin marker in docs/interop.md")
        + BEGIN.len();
    let end = start + text[start..].find(END).expect("the matrix:end marker");
    let table = latchkey_testkit::matrix::table();
    if text[start..end] == table {
        return;
    }
    if std::env::var("LATCHKEY_UPDATE_MATRIX").as_deref() == Ok("1") {
        let updated = format!("{}{table}{}", &text[..start], &text[end..]);
        std::fs::write(&path, updated).expect("write docs/interop.md");
        return;
    }
    panic!(
        "docs/interop.md's matrix differs from latchkey_testkit::matrix; run with LATCHKEY_UPDATE_MATRIX=1.\nExpected:\n{table}"
    );
}
