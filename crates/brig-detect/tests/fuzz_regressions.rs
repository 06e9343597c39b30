//! Inputs the fuzz targets (`fuzz/`, `scripts/fuzz.sh`) or the probes beside them found
//! breaking a parser, saved in `tests/fuzz_inputs/`, each now answered with a clean error.
//! RELIABILITY.md ("Fuzzing") lists them.

use brig_detect::rules::{RuleError, Rules};

fn input(name: &str) -> String {
    let path = format!("{}/tests/fuzz_inputs/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// 20 000 nested `[` in a rule: the YAML scanner's time grows with the square of the nesting
/// (this one took minutes of one core), so a reload stalled detection. Refused before parsing,
/// naming the file and the line.
#[test]
fn sigma_rule_deep_flow_nesting_is_refused_before_parsing() {
    let yaml = input("sigma_rule-deep-flow.yml");
    let err = Rules::from_sources([("deep.yml".to_string(), yaml)]).unwrap_err();
    match &err {
        RuleError::Parse { file, reason } => {
            assert_eq!(file, "deep.yml");
            assert!(reason.contains("line 6"), "{reason}");
            assert!(reason.contains("`[`/`{`"), "{reason}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    assert!(err.to_string().starts_with("deep.yml: line 6:"), "{err}");
}

/// The bound leaves real rules alone: the built-in pack, and a rule with flow lists and
/// regular-expression classes, still load.
#[test]
fn rules_with_some_flow_collections_still_load() {
    assert!(!Rules::builtin().is_empty());
    let yaml = "title: flow lists\n\
                id: 5f2b8a1e-0000-4000-8000-000000000002\n\
                logsource: {product: brig}\n\
                detection:\n  \
                  sel:\n    \
                    tool: [read_file, read_text_file]\n    \
                    target|re: '/home/[a-z]+/\\.ssh/'\n  \
                  condition: sel\n\
                level: low\n";
    Rules::from_sources([("flow.yml".to_string(), yaml.to_string())]).unwrap();
}

/// A redirection from an fd number too large for an `i32` (`1111…1>|`) made brush-parser
/// panic (found by the hook_payload target, in a Claude Code Bash call: the saved input). The
/// panic was caught, but the whole script then fell back to one unparsed command, hiding the
/// deletion beside it (`rm -rf build; echo 99999999999>out.txt`). Now the parser is never
/// handed such a number: the deletion is read, and the redirection's target too.
#[test]
fn shell_oversized_fd_redirection_neither_panics_nor_hides_the_rest() {
    let hook: serde_json::Value =
        serde_json::from_str(&input("hook_payload-fd-overflow.json")).unwrap();
    let found = hook["tool_input"]["command"].as_str().unwrap();
    // Its `(` is never closed: a syntax error, reported as one, not a parser failure.
    let actions = shell(found);
    let errors: Vec<_> = actions
        .iter()
        .filter_map(|a| a.attrs.get("parse_error"))
        .collect();
    assert_eq!(errors, ["syntax error at end of input"], "{actions:?}");

    let seen: Vec<(String, String)> = shell(&input("shell_command-fd-overflow.txt"))
        .iter()
        .map(|a| (a.action.to_string(), a.target.clone()))
        .collect();
    assert!(
        seen.contains(&("file.delete".into(), "/srv/project/build".into())),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|(k, t)| k == "file.write" && t == "/srv/project/out.txt"),
        "{seen:?}"
    );
}

fn shell(command: &str) -> Vec<brig_model::Action> {
    let ctx = brig_detect::ToolContext {
        cwd: Some(std::path::Path::new("/srv/project")),
        roots: &[],
    };
    let args = serde_json::json!({ "command": command });
    std::panic::catch_unwind(|| brig_detect::normalize("bash", &args, &ctx))
        .expect("the normalizer does not panic")
}

/// A `tools/call` whose command ends in 49 unclosed `(` (found by the mcp_frame target: the
/// saved frame) kept the shell parser busy for minutes, its time doubling with each `(`.
/// Refused before parsing, as one flagged `proc.exec`, like a command nested too deeply.
#[test]
fn shell_long_run_of_open_parens_is_refused_before_parsing() {
    let frames = input("mcp_frame-open-parens.jsonl");
    let call: serde_json::Value = serde_json::from_str(frames.lines().next().unwrap()).unwrap();
    let command = call["params"]["arguments"]["command"].as_str().unwrap();
    let actions = shell(command);
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0].action.to_string(), "proc.exec");
    assert_eq!(actions[0].attrs["parse_error"], "too many `(` in a row");
    // A dozen in a row still parse.
    let twelve = format!("{}true{}", "(".repeat(12), ")".repeat(12));
    assert!(shell(&twelve)
        .iter()
        .all(|a| !a.attrs.contains_key("parse_error")));
}

/// `<<`, a form feed (or a carriage return) and a tab at the end: 4 bytes, minimized from what
/// the shell_command target found, made the shell parser allocate without bound, past 8 GB.
/// Now read like any command line with a heredoc missing its delimiter: one flagged
/// `proc.exec`.
#[test]
fn shell_heredoc_form_feed_does_not_exhaust_memory() {
    let command = input("shell_command-heredoc-formfeed.txt");
    assert_eq!(command.as_bytes(), b"<<\x0c\t");
    let actions = shell(&command);
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert!(actions[0].attrs.contains_key("parse_error"), "{actions:?}");
    // The same with a carriage return (found after the first was fixed), and at the end of a
    // real command.
    let command = input("shell_command-heredoc-return.txt");
    assert_eq!(command.as_bytes(), b"<<\r\t");
    assert_eq!(shell(&command).len(), 1);
    assert_eq!(shell("cat <<\r\t").len(), 1);
    // The same characters inside a real command still leave its actions readable.
    let actions = shell("rm\x0c-rf build");
    assert!(
        actions
            .iter()
            .any(|a| a.action.to_string() == "file.delete"),
        "{actions:?}"
    );
}

/// A Cursor `afterShellExecution` payload (found by the hook_payload target: the saved input)
/// whose command has a heredoc with an empty delimiter, `<<''<#` (minimized), made the shell
/// parser allocate without bound (2 GB in 15 s). Refused before parsing, flagged.
#[test]
fn shell_heredoc_with_empty_delimiter_is_refused_before_parsing() {
    let hook: serde_json::Value =
        serde_json::from_str(&input("hook_payload-heredoc-empty.json")).unwrap();
    let actions = shell(hook["command"].as_str().unwrap());
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(
        actions[0].attrs["parse_error"],
        "a heredoc with an empty or missing delimiter"
    );
    assert_eq!(
        shell("cat <<''<#")[0].attrs["parse_error"],
        "a heredoc with an empty or missing delimiter"
    );
}

/// A `tools/call` whose command has long runs of `$` and unclosed `[`/`(` (found by the
/// mcp_frame target: the saved frame) kept brush-parser's word parser backtracking for more
/// than 30 s (12 `$((` in one word: 5 minutes). A word with more than a dozen `(`/`[` is now
/// kept as written, dynamic, and the call's actions marked `truncated`.
#[test]
fn shell_dollar_bracket_runs_parse_in_bounded_time() {
    let frames = input("mcp_frame-word-expansion.jsonl");
    for line in frames.lines() {
        let Ok(call) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let Some(command) = call
            .pointer("/params/arguments/command")
            .and_then(|c| c.as_str())
        {
            let actions = shell(command);
            // Its first word holds dozens of unclosed `$[` and `(`: kept as written, cut.
            assert!(
                actions
                    .iter()
                    .any(|a| a.attrs.get("truncated") == Some(&serde_json::json!(true))),
                "{actions:?}"
            );
        }
    }
}

/// A tilde with a directory-stack number too large for a `usize` made brush-parser's word
/// parser panic (found by the hook_payload target; minimized by hand). As with the fd number,
/// the caught panic left the script unparsed, hiding the deletion beside it.
#[test]
fn shell_tilde_with_huge_number_neither_panics_nor_hides_the_rest() {
    let actions = shell(&input("shell_command-tilde-overflow.txt"));
    assert!(
        actions.iter().all(|a| !a.attrs.contains_key("parse_error")),
        "{actions:?}"
    );
    assert!(
        actions
            .iter()
            .any(|a| a.action.to_string() == "file.delete" && a.target == "/srv/project/build"),
        "{actions:?}"
    );
}

/// `<<<<<''` (a run of `<` ending in a heredoc with an empty delimiter) hid the `<<''` from
/// the check above, which looked at non-overlapping `<<` only, and the tokenizer then ran
/// without end (found by the hook_payload target in a clean-clone CI run).
#[test]
fn shell_heredoc_empty_delimiter_after_a_run_of_lt_is_refused_before_parsing() {
    let hook: serde_json::Value =
        serde_json::from_str(&input("hook_payload-heredoc-quotes.json")).unwrap();
    let actions = shell(hook["command"].as_str().unwrap());
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(
        actions[0].attrs["parse_error"],
        "a heredoc with an empty or missing delimiter"
    );
}

/// A `<<` followed by a carriage return, a tab and control characters in the middle of a
/// command line (found by the shell_command target in a clean-clone CI run, after the fix for
/// the same bytes at the end) made brush-parser allocate past 2 GB. A heredoc with no
/// delimiter word is refused before parsing.
#[test]
fn shell_heredoc_cr_tab_mid_script_parses_in_bounded_memory() {
    let actions = shell(&input("shell_command-heredoc-cr-mid.bin"));
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(
        actions[0].attrs["parse_error"],
        "a heredoc with an empty or missing delimiter"
    );
}

/// `<<` + CR followed by `<` (an operator where the delimiter word should be) in the middle
/// of a command line (found by the shell_command target in a clean-clone CI run, after 11's
/// fix) made brush-parser allocate past 2 GB. A heredoc whose delimiter would be an operator
/// is refused before parsing; bash calls it a syntax error.
#[test]
fn shell_heredoc_followed_by_an_operator_parses_in_bounded_memory() {
    let actions = shell(&input("shell_command-heredoc-cr-operator.bin"));
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(
        actions[0].attrs["parse_error"],
        "a heredoc with an empty or missing delimiter"
    );
}

/// `<<` + CR + tab before an ordinary delimiter word (`monitor<<\r\tg`, found by the
/// shell_command target in a clean-clone CI run, after 12's fix) still made brush-parser
/// allocate past 2 GB. A carriage return between `<<` and its delimiter word is refused before
/// parsing.
#[test]
fn shell_heredoc_cr_before_its_word_parses_in_bounded_memory() {
    let actions = shell(&input("shell_command-heredoc-cr-word.bin"));
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(
        actions[0].attrs["parse_error"],
        "a heredoc with an empty or missing delimiter"
    );
}

/// Five runs of five unclosed `(` between other commands (each run under the limit of 12 in a
/// row) took brush-parser 11.7 s (found by the shell_command target, its slowest unit). A line
/// with more than 16 `(` left open is refused before parsing.
#[test]
fn shell_many_short_runs_of_open_parens_are_refused_before_parsing() {
    let actions = shell(&input("shell_command-open-paren-groups.txt"));
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0].attrs["parse_error"], "too many `(` left open");
}

/// A 908-byte line (unclosed `$(`, quotes and heredocs mixed, a control character inside a
/// `$(…)` in double quotes) makes brush-parser's tokenizer panic (`tokenizer.rs:674`, an
/// `unwrap` on `None`; found by the shell_command target, the last finding of the session).
/// Caught: the line becomes one `proc.exec` flagged with `parse_error`, never a crash. Open:
/// as in finding 2, the commands in the line are then not read one by one (RELIABILITY.md).
#[test]
fn shell_tokenizer_panic_is_caught_and_flagged() {
    let actions = shell(&input("shell_command-tokenizer-panic.txt"));
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0].attrs["parse_error"], "parser failure");
}
