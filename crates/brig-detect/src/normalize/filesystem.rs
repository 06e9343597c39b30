//! The tools of the MCP reference filesystem server
//! (`@modelcontextprotocol/server-filesystem`). See the table in the parent module.

use brig_model::{Action, ActionKind};
use serde_json::Value;

use super::{pair_action, path_action, ToolContext};

pub(crate) enum Outcome {
    /// Not a filesystem-server tool name.
    NotMine,
    /// The call's actions (empty only for `list_allowed_directories`).
    Actions(Vec<Action>),
    /// A filesystem-server tool whose required arguments are missing or mistyped.
    Malformed,
}

/// `name` is the stripped, lower-cased tool name.
pub(crate) fn normalize(name: &str, args: &Value, ctx: &ToolContext<'_>) -> Outcome {
    let single = |kind: ActionKind| match str_arg(args, "path") {
        Some(p) => Outcome::Actions(vec![path_action(kind, p, ctx)]),
        None => Outcome::Malformed,
    };
    match name {
        "read_file" | "read_text_file" | "read_media_file" => single(ActionKind::FileRead),
        "write_file" => single(ActionKind::FileWrite),
        "create_directory" => single(ActionKind::DirCreate),
        "list_directory" | "list_directory_with_sizes" | "directory_tree" | "get_file_info" => {
            single(ActionKind::FileList)
        }
        "search_files" => {
            let Some(p) = str_arg(args, "path") else {
                return Outcome::Malformed;
            };
            let mut a = path_action(ActionKind::FileList, p, ctx);
            if let Some(pattern) = str_arg(args, "pattern") {
                a.attrs.insert("pattern".into(), Value::from(pattern));
            }
            Outcome::Actions(vec![a])
        }
        "edit_file" => {
            let Some(p) = str_arg(args, "path") else {
                return Outcome::Malformed;
            };
            // Only a real `true` is a dry run; anything else may write, so assume it does.
            if args.get("dryRun") == Some(&Value::Bool(true)) {
                let mut a = path_action(ActionKind::FileRead, p, ctx);
                a.attrs.insert("dry_run".into(), Value::Bool(true));
                Outcome::Actions(vec![a])
            } else {
                Outcome::Actions(vec![path_action(ActionKind::FileWrite, p, ctx)])
            }
        }
        "read_multiple_files" => {
            let paths: Vec<&str> = args
                .get("paths")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if paths.is_empty() {
                return Outcome::Malformed;
            }
            Outcome::Actions(
                paths
                    .into_iter()
                    .map(|p| path_action(ActionKind::FileRead, p, ctx))
                    .collect(),
            )
        }
        "move_file" => match (str_arg(args, "source"), str_arg(args, "destination")) {
            (Some(s), Some(d)) => {
                Outcome::Actions(vec![pair_action(ActionKind::FileMove, s, d, ctx)])
            }
            _ => Outcome::Malformed,
        },
        "list_allowed_directories" => Outcome::Actions(Vec::new()),
        _ => Outcome::NotMine,
    }
}

fn str_arg<'v>(args: &'v Value, key: &str) -> Option<&'v str> {
    args.get(key).and_then(Value::as_str)
}
