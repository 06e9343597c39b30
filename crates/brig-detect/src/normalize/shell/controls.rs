//! Form feeds and vertical tabs, which brush-parser mishandles.
//!
//! `<<` followed by a form feed and a blank at the end of the input made the parser allocate
//! without bound: 4 bytes took it past 8 GB (found by fuzzing, `fuzz/`), which would kill a
//! gateway. Bash reads these two characters as part of a word; here they become spaces, which
//! can only split a word in two: the reading errs towards more commands and arguments, never
//! fewer, so nothing can hide behind them.

use std::borrow::Cow;

/// `src` with each form feed and vertical tab replaced by a space.
pub(crate) fn blank(src: &str) -> Cow<'_, str> {
    if src.contains(['\u{0b}', '\u{0c}']) {
        Cow::Owned(src.replace(['\u{0b}', '\u{0c}'], " "))
    } else {
        Cow::Borrowed(src)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_feeds_and_vertical_tabs_become_spaces() {
        assert_eq!(super::blank("<<\u{0c}\t"), "<< \t");
        assert_eq!(super::blank("a\u{0b}b"), "a b");
        assert!(matches!(
            super::blank("ls -la"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
