//! Runs of `(` the parser cannot afford.
//!
//! Each `(` may open a subshell or, doubled, an arithmetic command, and brush-parser (a PEG
//! parser, no memoization) tries both when what follows fails to parse: unclosed runs cost it
//! about twice as much time per `(`. 22 took 2 s, 25 took 22 s, 30 minutes (found by fuzzing,
//! `fuzz/`, in a tool call's `command`): a gateway thread held while the agent waits. No real
//! command line opens a dozen in a row; one that does is refused like one nested too deeply
//! (one `proc.exec` flagged with `parse_error`).

/// Most `(` accepted in a row (whitespace between them allowed).
pub(crate) const MAX_OPEN_RUN: usize = 12;

/// Most `(` and `[` accepted in one word before it is expanded.
///
/// The word parser backtracks the same way through `$(`, `$((` and `$[` (old-style
/// arithmetic) that do not close, even with other characters between them: 12 `$((` took
/// 5 minutes, 16 `$(` 2.7 s, 20 `$[` 0.3 s (found by fuzzing, in a tool call's `command`).
/// Closers are not counted, because a quoted `)` closes nothing for the parser. A word with
/// more is kept as written, dynamic, and the call's actions are marked `truncated`.
pub(crate) const MAX_WORD_OPENERS: usize = 12;

/// How many `(` and `[` a word holds.
pub(crate) fn word_openers(word: &str) -> usize {
    word.bytes().filter(|b| matches!(b, b'(' | b'[')).count()
}

/// The longest run of `(` with nothing but whitespace between them.
pub(crate) fn longest_open_run(src: &str) -> usize {
    let mut run = 0usize;
    let mut longest = 0usize;
    for b in src.bytes() {
        match b {
            b'(' => {
                run += 1;
                longest = longest.max(run);
            }
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => run = 0,
        }
    }
    longest
}

/// Most `(` accepted left open in a whole command line.
///
/// Runs shorter than [`MAX_OPEN_RUN`] add up: five runs of five unclosed `(` between other
/// commands took the parser 11.7 s (found by fuzzing). An unclosed `(` is a syntax error to
/// bash, so a line with this many is refused like one nested too deeply.
pub(crate) const MAX_UNCLOSED: usize = 16;

/// How many `(` are left open at the end of `src` (each `)` closes the latest open one;
/// quotes are not read, which can only count more).
pub(crate) fn unclosed(src: &str) -> usize {
    src.bytes().fold(0usize, |open, b| match b {
        b'(' => open + 1,
        b')' => open.saturating_sub(1),
        _ => open,
    })
}

#[cfg(test)]
mod tests {
    use super::{longest_open_run, unclosed};

    #[test]
    fn unclosed_counts_what_is_left_open() {
        assert_eq!(unclosed("echo $(( (1 + 2) * 3 ))"), 0);
        assert_eq!(unclosed("a &((((( b && c ((((( d"), 10);
        assert_eq!(unclosed("case x in a) ;; esac ((("), 3);
    }

    #[test]
    fn runs_count_whitespace_separated_opens_only() {
        assert_eq!(longest_open_run("echo $(( (1 + 2) * 3 ))"), 3);
        assert_eq!(longest_open_run("( ( (\n("), 4);
        assert_eq!(longest_open_run("(a (b (c"), 1);
        assert_eq!(longest_open_run(""), 0);
    }
}
