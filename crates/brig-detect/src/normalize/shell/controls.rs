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

/// Whether a heredoc's delimiter is an empty quoted word (`<<''`, `<<-""`). Bash accepts one
/// (an empty line ends it), but `<<''<#` made brush-parser allocate without bound (found by
/// fuzzing), and no real command line needs it: such a script is refused like one nested too
/// deeply.
pub(crate) fn empty_heredoc_delimiter(src: &str) -> bool {
    src.match_indices("<<").any(|(i, _)| {
        let rest = src[i + 2..]
            .trim_start_matches('-')
            .trim_start_matches([' ', '\t']);
        rest.starts_with("''") || rest.starts_with("\"\"")
    })
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

    #[test]
    fn empty_heredoc_delimiters_are_recognized() {
        assert!(super::empty_heredoc_delimiter("cat <<''<#"));
        assert!(super::empty_heredoc_delimiter("cat <<- \"\"\nx"));
        assert!(!super::empty_heredoc_delimiter("cat <<'EOF'\nx\nEOF"));
        assert!(!super::empty_heredoc_delimiter("cat <<< ''"));
    }
}
