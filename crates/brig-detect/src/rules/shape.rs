//! Bounds on a rule document, checked before the YAML parser sees it. The parser's scanner
//! (libyaml's design) keeps one possible simple key per open flow collection (`[`, `{`) and
//! walks them all for every token, so its time is the nesting times the tokens: 16 KB of `[`
//! took 5 s, 100 KB minutes (found while fuzzing, `fuzz/`). A reload that hangs is detection
//! switched off, and a rule file is something an agent may try to write or a pack may bring,
//! so a document is refused up front when it is larger, or has more `[`/`{`, than any real
//! rule. The brackets are counted wherever they are (quoted or not): a count that follows
//! YAML's quoting could be misled by quotes the parser reads differently; a plain count
//! cannot, and real rules have a handful.

/// Largest rule document accepted (a SigmaHQ rule is a few KB; the built-in pack's largest
/// file is 6 KB).
pub const MAX_RULE_BYTES: usize = 256 << 10;

/// Most `[` and `{` characters accepted in one document, which bounds the flow nesting.
/// With both bounds a hostile document costs the parser about a second at worst.
pub const MAX_FLOW_OPENERS: usize = 256;

/// Why a document is refused, or `Ok` when it is within bounds.
pub fn check(yaml: &str) -> Result<(), String> {
    if yaml.len() > MAX_RULE_BYTES {
        return Err(format!(
            "the document is {} bytes; a rule file may have at most {MAX_RULE_BYTES}",
            yaml.len()
        ));
    }
    let mut openers = 0usize;
    for (i, line) in yaml.lines().enumerate() {
        openers += line.bytes().filter(|b| matches!(b, b'[' | b'{')).count();
        if openers > MAX_FLOW_OPENERS {
            return Err(format!(
                "line {}: more than {MAX_FLOW_OPENERS} `[`/`{{` in one rule file (deeply nested \
                 flow collections make YAML parsing quadratic)",
                i + 1
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_rules_pass_and_hostile_ones_are_refused_with_their_line() {
        assert_eq!(check("a: [1, {b: [2]}]\nc: '[a-z]+'\n"), Ok(()));
        let deep = format!("title: t\nsel: {}\n", "[".repeat(MAX_FLOW_OPENERS + 1));
        let err = check(&deep).unwrap_err();
        assert!(err.contains("line 2") && err.contains("256"), "{err}");
        // Quoted closers cannot hide nesting from the count.
        let hidden = format!("sel: {}\n", "[ \"]\" ".repeat(MAX_FLOW_OPENERS + 1));
        assert!(check(&hidden).is_err());
        let big = "#".repeat(MAX_RULE_BYTES + 1);
        assert!(check(&big).unwrap_err().contains("at most"));
    }
}
