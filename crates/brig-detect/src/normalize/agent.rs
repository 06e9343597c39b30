//! The built-in tools of coding agents, as their hooks report them: Claude Code's `Read`,
//! `Write`, `Edit`, `MultiEdit`, `NotebookEdit`, `Glob`, `Grep`, `LS`; Gemini CLI's
//! `read_file`, `write_file`, `replace`, `glob`, `search_file_content`; Cursor's file
//! reads. See the table in the parent module. Shell tools (`Bash`, `run_shell_command`,
//! `run_terminal_cmd`) are the shell normalizer's; URLs (`WebFetch`) the generic one's.

use brig_model::{Action, ActionKind};
use serde_json::Value;

use super::{path_action, ToolContext};

/// The path argument names these tools use (Gemini CLI's older `absolute_path` too).
const FILE_KEYS: &[&str] = &["file_path", "notebook_path", "absolute_path"];

/// `name` is the stripped, lower-cased tool name. `None`: not a coding agent's built-in
/// (or not called the way one is: the filesystem server's `read_file` takes `path`).
pub(crate) fn normalize(name: &str, args: &Value, ctx: &ToolContext<'_>) -> Option<Vec<Action>> {
    let obj = args.as_object()?;
    let file = FILE_KEYS
        .iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_str));
    let text = |k: &str| obj.get(k).and_then(Value::as_str);
    let kind = match name {
        "read" | "read_file" | "read_many_files" => ActionKind::FileRead,
        "write" | "write_file" | "edit" | "multiedit" | "edit_file" | "replace"
        | "notebookedit" => ActionKind::FileWrite,
        // Searches list (glob) or read (grep) everything below their directory, which is
        // the working directory when none is given.
        "glob" | "ls" if file.is_none() => {
            return search(ActionKind::FileList, text("path"), text("pattern"), ctx)
        }
        "grep" | "search_file_content" if file.is_none() => {
            return search(ActionKind::FileRead, text("path"), text("pattern"), ctx)
        }
        _ => return None,
    };
    Some(vec![path_action(kind, file?, ctx)])
}

fn search(
    kind: ActionKind,
    path: Option<&str>,
    pattern: Option<&str>,
    ctx: &ToolContext<'_>,
) -> Option<Vec<Action>> {
    let dir = match (path, ctx.cwd) {
        (Some(p), _) => p.to_string(),
        (None, Some(cwd)) => cwd.to_string_lossy().into_owned(),
        (None, None) => ".".to_string(),
    };
    let mut a = path_action(kind, &dir, ctx);
    if let Some(p) = pattern {
        a.attrs.insert("pattern".into(), Value::from(p));
    }
    Some(vec![a])
}

#[cfg(test)]
mod tests {
    use super::super::normalize;
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn ctx() -> ToolContext<'static> {
        ToolContext {
            cwd: Some(Path::new("/work/repo")),
            roots: &[],
        }
    }

    fn one(tool: &str, args: Value) -> (ActionKind, String) {
        let got = normalize(tool, &args, &ctx());
        assert_eq!(got.len(), 1, "{tool}: {got:?}");
        (got[0].action, got[0].target.clone())
    }

    #[test]
    fn claude_code_tools() {
        let r = ActionKind::FileRead;
        let w = ActionKind::FileWrite;
        let l = ActionKind::FileList;
        assert_eq!(
            one("Read", json!({"file_path": "/work/repo/a.rs"})),
            (r, "/work/repo/a.rs".into())
        );
        assert_eq!(
            one("Write", json!({"file_path": "b.rs", "content": "x"})),
            (w, "/work/repo/b.rs".into())
        );
        assert_eq!(
            one(
                "Edit",
                json!({"file_path": "/work/repo/a.rs", "old_string": "a", "new_string": "b"})
            ),
            (w, "/work/repo/a.rs".into())
        );
        assert_eq!(
            one(
                "MultiEdit",
                json!({"file_path": "/work/repo/a.rs", "edits": []})
            ),
            (w, "/work/repo/a.rs".into())
        );
        assert_eq!(
            one(
                "NotebookEdit",
                json!({"notebook_path": "/work/repo/n.ipynb", "new_source": ""})
            ),
            (w, "/work/repo/n.ipynb".into())
        );
        assert_eq!(
            one("Glob", json!({"pattern": "**/*.rs"})),
            (l, "/work/repo".into())
        );
        assert_eq!(
            one("Grep", json!({"pattern": "fn main", "path": "/etc"})),
            (r, "/etc".into())
        );
        let got = normalize("Glob", &json!({"pattern": "*.rs"}), &ctx());
        assert_eq!(got[0].attrs.get("pattern"), Some(&json!("*.rs")));
    }

    #[test]
    fn gemini_and_cursor_tools() {
        let r = ActionKind::FileRead;
        let w = ActionKind::FileWrite;
        assert_eq!(
            one("read_file", json!({"file_path": "/work/repo/a"})),
            (r, "/work/repo/a".into())
        );
        assert_eq!(
            one("read_file", json!({"absolute_path": "/etc/passwd"})),
            (r, "/etc/passwd".into())
        );
        assert_eq!(
            one("write_file", json!({"file_path": "/tmp/x", "content": ""})),
            (w, "/tmp/x".into())
        );
        assert_eq!(
            one(
                "replace",
                json!({"file_path": "/work/repo/a", "old_string": "", "new_string": ""})
            ),
            (w, "/work/repo/a".into())
        );
        assert_eq!(
            one("search_file_content", json!({"pattern": "x"})),
            (r, "/work/repo".into())
        );
        // The filesystem server's own read_file (`path`) is still its normalizer's.
        assert_eq!(
            one("read_file", json!({"path": "/work/repo/a"})),
            (r, "/work/repo/a".into())
        );
    }
}
