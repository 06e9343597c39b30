//! Redirections of file-descriptor numbers too large for the parser.
//!
//! brush-parser reads the digits before a redirection (`2>`, `10<`) as an `i32` and panics
//! when they do not fit (found by fuzzing, `fuzz/`). The panic is caught, but then the whole
//! script is one unparsed command: `rm -rf ~/work; echo 99999999999>x` would hide the
//! deletion. Bash refuses such a redirection and runs the rest, so the digits are split from
//! the operator instead (`99999999999 >x`): the script parses, every other command is read,
//! and the redirection still shows its target.

use std::borrow::Cow;

/// `src` with a space between each run of digits too large for an fd and the `<`/`>` after it.
pub(crate) fn split_oversized(src: &str) -> Cow<'_, str> {
    let bytes = src.as_bytes();
    let mut cuts = Vec::new();
    let mut start = None;
    for (i, &b) in bytes.iter().enumerate() {
        if b.is_ascii_digit() {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            if (b == b'<' || b == b'>') && src[s..i].parse::<i32>().is_err() {
                cuts.push(i);
            }
        }
    }
    super::controls::insert_at(src, &cuts, ' ')
}

#[cfg(test)]
mod tests {
    use super::split_oversized;

    #[test]
    fn only_digits_too_large_for_an_fd_are_split_from_their_operator() {
        assert_eq!(split_oversized("echo 2>&1 10>x"), "echo 2>&1 10>x");
        assert_eq!(split_oversized("echo 99999999999>x"), "echo 99999999999 >x");
        assert_eq!(
            split_oversized("a 2147483648<y 2147483647<z"),
            "a 2147483648 <y 2147483647<z"
        );
        assert_eq!(split_oversized("99999999999 > x"), "99999999999 > x");
    }
}
