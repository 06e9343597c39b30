//! Tool-call normalization: from "tool `X` was called with arguments `{…}`" to "these
//! [`Action`]s happened to these targets".
//!
//! # Why
//!
//! Agents reach the same effect through very different tools: an MCP `write_file`, a hook's
//! `Write`, a `save_note` of some other server, a shell command. Detection rules, policy and
//! rollback must not each learn every tool's argument names, so they read only normalized
//! actions ([`brig_model::ActionKind`] + target, dest, attrs). This module is the one place
//! that knows argument shapes. It never fails: a tool it cannot read still yields an action
//! (`tool.call`, target = the tool name as called), so nothing slips through unrecorded.
//!
//! # Tool names
//!
//! MCP clients prefix tool names with the server name; everything up to the last `__`, `.`
//! or `/` is stripped before matching (`mcp__filesystem__write_file`,
//! `filesystem.write_file` and `filesystem/write_file` all mean `write_file`). Matching is
//! case-insensitive. The `tool.call` fallback keeps the full name as called.
//!
//! # Mapping
//!
//! Tools of the MCP reference filesystem server (`@modelcontextprotocol/server-filesystem`):
//!
//! | tool | arguments | actions |
//! |---|---|---|
//! | `read_file`, `read_text_file`, `read_media_file` | `path` | `file.read` |
//! | `read_multiple_files` | `paths[]` | one `file.read` per path |
//! | `write_file` | `path`, `content` | `file.write` |
//! | `edit_file` | `path`, `edits`, `dryRun` | `file.write`; with `dryRun: true` `file.read` + attrs `dry_run: true` (a dry run changes nothing) |
//! | `create_directory` | `path` | `dir.create` |
//! | `list_directory`, `list_directory_with_sizes`, `directory_tree`, `search_files`, `get_file_info` | `path` (`pattern` → attrs `pattern`) | `file.list` |
//! | `move_file` | `source`, `destination` | `file.move`, target = source, dest = destination |
//! | `list_allowed_directories` | — | none: it touches no file and only reveals roots the gateway configured |
//!
//! A known filesystem tool whose required arguments are missing or of the wrong type yields
//! `tool.call` with attrs `malformed: true` (the server would reject the call).
//!
//! Any other tool is read by generic argument names; every family that matches adds its
//! actions (in this order), and a tool matching none yields `tool.call`:
//!
//! | arguments | action |
//! |---|---|
//! | `command` / `cmd` (string, or argv array) | `proc.exec`, target = first word (after `VAR=value` assignments), attrs `command` = the whole line |
//! | `path` / `file` / `filename` / `file_path` / `filePath` / `fileName` (string or array) | `file.delete` if the name has a delete/remove/unlink/rm word, else `file.write` if it has write/save/create/update/put/append/edit, else `file.read` |
//! | `source`+`destination`, `src`+`dst` (strings), `from`+`to` (both [path-like](#limits)) | `file.move` if the name has move/mv/rename, else `file.copy` |
//! | `url` / `uri` / `endpoint` | `net.egress`, target = URL, dest = host, attrs `method` (upper-cased) from `method`; a `file://` URL is a `file.read` instead |
//! | `to` / `recipients` / `recipient` / `cc` / `bcc` (string, comma/semicolon list, array, or `{email}` objects), unless `to` was a path pair; values that are plainly paths (`/`, `./`, `../`, `~/`, `file://`) are skipped | one `message.send` per recipient |
//!
//! Name words are found by splitting the (stripped) tool name at `_`, `-`, other
//! non-alphanumerics and camelCase humps; a word matches a verb when it starts with it
//! (`writeFile`, `rmdir`, `deleted`), so `output` is not `put` and `credit` is not `edit`.
//!
//! # Targets
//!
//! Path targets are absolute: a relative path is joined to [`ToolContext::cwd`], else to the
//! first of [`ToolContext::roots`], then normalized lexically (`.`, `..`, duplicate and
//! trailing slashes; `..` past `/` stays at `/`). So `/srv/repo/../../etc/passwd` is
//! `/etc/passwd`, whatever root the call claimed to be under. `file://` URLs become their
//! (percent-decoded) path. `~` and `~/…` are kept as written with attrs
//! `home_relative: true`. A relative path with neither cwd nor roots stays relative with
//! attrs `unresolved: true`.
//!
//! # Limits
//!
//! - Lexical only: symlinks, bind mounts and hard links are not followed, so a target names
//!   what the call *said*, not necessarily the inode it reached. Containment must check
//!   the real path again at the point of use.
//! - POSIX paths only: Windows drive paths and backslashes are treated as ordinary
//!   relative names.
//! - Commands are not parsed yet: `proc.exec` takes the first word; pipes, `&&`, `sh -c`,
//!   redirections and the files or hosts a command touches are not extracted.
//! - Generic names are heuristics. "Path-like" means absolute, `./`, `../`, `~`, `file://`,
//!   containing `/`, or a bare `name.ext`, and never an `@` or a non-file URL.
//!   Unrecognized argument names are ignored; when nothing matches, `tool.call` keeps the
//!   call visible to rules that match on tool names.

mod filesystem;
mod generic;
mod path;

use std::path::PathBuf;

use brig_model::{Action, ActionKind};
use serde_json::Value;

/// Where relative paths resolve, and what the upstream serves.
#[derive(Clone, Copy, Debug, Default)]
pub struct ToolContext<'a> {
    /// The working directory of the agent or tool process, when known.
    pub cwd: Option<&'a std::path::Path>,
    /// The directories the upstream serves (e.g. the filesystem server's allowed
    /// directories); the first is the base for relative paths when there is no cwd.
    pub roots: &'a [PathBuf],
}

/// The normalized actions of one tool call. Never fails: unknown tools and odd arguments
/// still yield an action (tool.call with the tool name as target).
///
/// The only call that yields no action is the filesystem server's
/// `list_allowed_directories`, which touches nothing.
pub fn normalize(tool: &str, arguments: &Value, ctx: &ToolContext<'_>) -> Vec<Action> {
    let name = strip_prefix(tool).to_ascii_lowercase();
    match filesystem::normalize(&name, arguments, ctx) {
        filesystem::Outcome::Actions(actions) => return actions,
        filesystem::Outcome::Malformed => {
            let mut a = Action::new(ActionKind::ToolCall, tool);
            a.attrs.insert("malformed".into(), Value::Bool(true));
            return vec![a];
        }
        filesystem::Outcome::NotMine => {}
    }
    let actions = generic::normalize(&name, arguments, ctx);
    if actions.is_empty() {
        vec![Action::new(ActionKind::ToolCall, tool)]
    } else {
        actions
    }
}

/// The tool name without an MCP client's server prefix: the part after the last `__`, `.`
/// or `/` (the whole name if that part would be empty).
pub(crate) fn strip_prefix(tool: &str) -> &str {
    let cut = [
        tool.rfind("__").map(|i| i + 2),
        tool.rfind('.').map(|i| i + 1),
        tool.rfind('/').map(|i| i + 1),
    ]
    .into_iter()
    .flatten()
    .max();
    match cut {
        Some(i) if i < tool.len() => &tool[i..],
        _ => tool,
    }
}

/// An action on one path argument, with the path resolved and flags set.
pub(crate) fn path_action(kind: ActionKind, raw: &str, ctx: &ToolContext<'_>) -> Action {
    let r = path::resolve(raw, ctx);
    let mut a = Action::new(kind, r.path.clone());
    flag(&mut a, &r);
    a
}

/// An action from one path to another (copy, move).
pub(crate) fn pair_action(
    kind: ActionKind,
    source: &str,
    dest: &str,
    ctx: &ToolContext<'_>,
) -> Action {
    let s = path::resolve(source, ctx);
    let d = path::resolve(dest, ctx);
    let mut a = Action::new(kind, s.path.clone()).with_dest(d.path.clone());
    flag(&mut a, &s);
    flag(&mut a, &d);
    a
}

fn flag(a: &mut Action, r: &path::Resolved) {
    if r.home_relative {
        a.attrs.insert("home_relative".into(), Value::Bool(true));
    }
    if r.unresolved {
        a.attrs.insert("unresolved".into(), Value::Bool(true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_stripped() {
        assert_eq!(strip_prefix("mcp__filesystem__write_file"), "write_file");
        assert_eq!(strip_prefix("filesystem.write_file"), "write_file");
        assert_eq!(strip_prefix("filesystem/write_file"), "write_file");
        assert_eq!(strip_prefix("a/b.c__read_file"), "read_file");
        assert_eq!(strip_prefix("write_file"), "write_file");
        assert_eq!(strip_prefix("trailing/"), "trailing/");
        assert_eq!(strip_prefix(""), "");
    }

    #[test]
    fn malformed_known_tool_keeps_full_name() {
        let ctx = ToolContext::default();
        let got = normalize("mcp__fs__write_file", &Value::Null, &ctx);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].action, ActionKind::ToolCall);
        assert_eq!(got[0].target, "mcp__fs__write_file");
        assert_eq!(got[0].attrs.get("malformed"), Some(&Value::Bool(true)));
    }
}
