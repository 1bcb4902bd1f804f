//! Marks and colour for human output on stdout. On a terminal (and without `NO_COLOR`):
//! `✓`/`✗` in green/red. Anywhere else (a pipe, a file, `NO_COLOR`): the plain words `ok`
//! and `no`, so `grep '^no '` works and nothing depends on the glyphs' encoding.

use anstyle::{AnsiColor, Style};

/// How this run writes marks; decided once from stdout.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Marks {
    fancy: bool,
}

impl Marks {
    /// Decided by anstream from stdout (a terminal, `NO_COLOR`, `CLICOLOR_FORCE`).
    pub(crate) fn for_stdout() -> Self {
        let choice = anstream::AutoStream::choice(&std::io::stdout());
        Self {
            fancy: choice != anstream::ColorChoice::Never,
        }
    }

    /// `✓` (green) or `ok`.
    pub(crate) fn ok(self) -> String {
        self.paint("✓", "ok", AnsiColor::Green)
    }

    /// `✗` (red) or `no`.
    pub(crate) fn no(self) -> String {
        self.paint("✗", "no", AnsiColor::Red)
    }

    /// `ok` or `no` mark for `good`.
    pub(crate) fn mark(self, good: bool) -> String {
        if good { self.ok() } else { self.no() }
    }

    /// `text` dimmed on a terminal (details under a headline).
    pub(crate) fn dim(self, text: &str) -> String {
        if self.fancy {
            let style = Style::new().dimmed();
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    fn paint(self, glyph: &str, word: &str, color: AnsiColor) -> String {
        if self.fancy {
            let style = Style::new().fg_color(Some(color.into())).bold();
            format!("{style}{glyph}{style:#}")
        } else {
            word.to_owned()
        }
    }
}
