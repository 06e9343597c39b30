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

/// Whether a heredoc has no usable delimiter: an empty quoted word (`<<''`, `<<-""`), none at
/// all (the line ends, a control character or an operator follows), or a carriage return
/// before it. Each made brush-parser allocate without bound or run without end (found by
/// fuzzing, five times); bash rejects or misreads them all, and no real command line needs
/// one: such a script is refused like one nested too deeply.
pub(crate) fn missing_heredoc_delimiter(src: &str) -> bool {
    // Each run of `<` whole, read as the tokenizer reads it (greedily: `<<<`, then `<<`, then
    // `<`): it ends in a heredoc when its length leaves 2 after the `<<<`s. `<<<<<''` hid its
    // `<<''` from a search for non-overlapping `<<` (found by fuzzing too).
    let bytes = src.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        let run = bytes[i..].iter().take_while(|&&b| b == b'<').count();
        i += run;
        if run % 3 == 2 {
            let after = src[i..].trim_start_matches('-');
            let rest = after.trim_start_matches([' ', '\t', '\r']);
            // A carriage return before the delimiter word (`<<\r\tEOF`) made the parser
            // allocate past 2 GB whatever followed (fuzzing, a fourth time); bash would take
            // the CR as the delimiter itself, which no real script means.
            if after[..after.len() - rest.len()].contains('\r') {
                return true;
            }
            // No delimiter word at all (the line ends, a control character or an operator
            // follows; bash calls that a syntax error): `<<` + CR + tab, and `<<` + CR + `<`,
            // mid-script made the parser allocate past 2 GB (fuzzing again, twice).
            let missing = rest
                .chars()
                .next()
                .is_none_or(|c| c.is_control() || "<>|&;()".contains(c));
            if missing || rest.starts_with("''") || rest.starts_with("\"\"") {
                return true;
            }
        }
    }
    false
}

/// `src` with a backslash before each `~`, `~+` or `~-` whose directory-stack number does not
/// fit a `usize`: brush-parser's word parser panicked on it (found by fuzzing), and the caught
/// panic left the whole script unparsed. Bash leaves such a word unexpanded, which is what the
/// escaped `~` means too.
pub(crate) fn escape_huge_tildes(src: &str) -> Cow<'_, str> {
    let mut cuts = Vec::new();
    for (i, _) in src.match_indices('~') {
        let rest = &src[i + 1..];
        let rest = rest.strip_prefix(['+', '-']).unwrap_or(rest);
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 && rest[..digits].parse::<usize>().is_err() {
            cuts.push(i);
        }
    }
    insert_at(src, &cuts, '\\')
}

/// `src` with `c` inserted before each byte offset in `cuts` (ascending, on char boundaries);
/// borrowed when there is none.
pub(crate) fn insert_at<'a>(src: &'a str, cuts: &[usize], c: char) -> Cow<'a, str> {
    if cuts.is_empty() {
        return Cow::Borrowed(src);
    }
    let mut out = String::with_capacity(src.len() + cuts.len() * c.len_utf8());
    let mut last = 0;
    for &at in cuts {
        out.push_str(&src[last..at]);
        out.push(c);
        last = at;
    }
    out.push_str(&src[last..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_tildes_with_numbers_too_large_are_escaped() {
        let huge = "~99999999999999999999999";
        assert_eq!(
            super::escape_huge_tildes(&format!("ls {huge}/x")),
            format!("ls \\{huge}/x")
        );
        assert_eq!(
            super::escape_huge_tildes("cd ~+2 ~-1 ~/x ~"),
            "cd ~+2 ~-1 ~/x ~"
        );
    }

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
    fn missing_heredoc_delimiters_are_recognized() {
        assert!(super::missing_heredoc_delimiter("cat <<''<#"));
        assert!(super::missing_heredoc_delimiter("cat <<- \"\"\nx"));
        assert!(!super::missing_heredoc_delimiter("cat <<'EOF'\nx\nEOF"));
        assert!(!super::missing_heredoc_delimiter("cat <<< ''"));
        assert!(super::missing_heredoc_delimiter("x <<<<<''''"));
        assert!(!super::missing_heredoc_delimiter("x <<<< ''"));
        assert!(super::missing_heredoc_delimiter("x <<\r\t\0\0 y"));
        assert!(super::missing_heredoc_delimiter("t<\r<<\r<\rq"));
        assert!(super::missing_heredoc_delimiter("monitor<<\r\tg n"));
        assert!(super::missing_heredoc_delimiter("cat << \rEOF"));
        // A CRLF script's delimiter keeps its CR after the word: not refused.
        assert!(!super::missing_heredoc_delimiter(
            "cat <<EOF\r\nx\r\nEOF\r\n"
        ));
        for op in ["<", ">", "|", "&", ";", "(", ")"] {
            assert!(
                super::missing_heredoc_delimiter(&format!("cat << {op}x")),
                "{op}"
            );
        }
        assert!(!super::missing_heredoc_delimiter("cat <<$END\nx\n$END"));
        assert!(!super::missing_heredoc_delimiter("cat << EOF\nx\nEOF"));
    }
}
