//! Generic argument names, for tools Brig has no specific normalizer for. See the table in
//! the parent module.

use brig_model::{Action, ActionKind};
use serde_json::Value;

use super::path::looks_like_path;
use super::{pair_action, path_action, ToolContext};

const PATH_KEYS: &[&str] = &[
    "path",
    "file",
    "filename",
    "file_path",
    "filePath",
    "fileName",
];
const URL_KEYS: &[&str] = &["url", "uri", "endpoint"];
const RECIPIENT_KEYS: &[&str] = &["to", "recipients", "recipient", "cc", "bcc"];

const DELETE_VERBS: &[&str] = &["delete", "remove", "unlink", "rm"];
const WRITE_VERBS: &[&str] = &["write", "save", "create", "update", "put", "append", "edit"];
const MOVE_VERBS: &[&str] = &["move", "mv", "rename"];

/// `name` is the stripped, lower-cased tool name. Empty when no argument family matched.
pub(crate) fn normalize(name: &str, args: &Value, ctx: &ToolContext<'_>) -> Vec<Action> {
    let mut out = Vec::new();
    let Some(obj) = args.as_object() else {
        return out;
    };
    let words = words(name);
    let has = |verbs: &[&str]| words.iter().any(|w| verbs.iter().any(|v| w.starts_with(v)));

    // Commands (`command`/`cmd`) are the shell normalizer's.

    // Single paths.
    let kind = if has(DELETE_VERBS) {
        ActionKind::FileDelete
    } else if has(WRITE_VERBS) {
        ActionKind::FileWrite
    } else {
        ActionKind::FileRead
    };
    for key in PATH_KEYS {
        for p in strings(obj.get(*key)) {
            out.push(path_action(kind, p, ctx));
        }
    }

    // Path pairs.
    let pair_kind = if has(MOVE_VERBS) {
        ActionKind::FileMove
    } else {
        ActionKind::FileCopy
    };
    let mut to_is_path = false;
    for (s, d) in [("source", "destination"), ("src", "dst"), ("from", "to")] {
        let (Some(sv), Some(dv)) = (
            obj.get(s).and_then(Value::as_str),
            obj.get(d).and_then(Value::as_str),
        ) else {
            continue;
        };
        if s == "from" {
            if !(looks_like_path(sv) && looks_like_path(dv)) {
                continue;
            }
            to_is_path = true;
        }
        out.push(pair_action(pair_kind, sv, dv, ctx));
    }

    // Network egress.
    for key in URL_KEYS {
        let Some(url) = obj.get(*key).and_then(Value::as_str) else {
            continue;
        };
        if url
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("file://"))
        {
            out.push(path_action(ActionKind::FileRead, url, ctx));
            continue;
        }
        let mut a = Action::new(ActionKind::NetEgress, url);
        if let Some(host) = host_of(url) {
            a.dest = Some(host);
        }
        if let Some(m) = obj.get("method").and_then(Value::as_str) {
            a.attrs
                .insert("method".into(), Value::from(m.to_ascii_uppercase()));
        }
        out.push(a);
    }

    // Messages.
    for key in RECIPIENT_KEYS {
        if *key == "to" && to_is_path {
            continue;
        }
        for r in recipients(obj.get(*key)) {
            if is_plain_path(&r) {
                continue;
            }
            out.push(Action::new(ActionKind::MessageSend, r));
        }
    }
    out
}

/// Unmistakably a path (absolute, `./`, `../`, `~/`, `file://`): never a recipient.
fn is_plain_path(s: &str) -> bool {
    ["/", "./", "../", "~/"].iter().any(|p| s.starts_with(p))
        || s.get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("file://"))
}

/// Lower-cased words of a tool name: split at non-alphanumerics and camelCase humps.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_numeric();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A string, or the strings of an array.
fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Recipients: strings (split at `,` and `;`), arrays of them, or objects with an
/// `email`/`address` string.
fn recipients(v: Option<&Value>) -> Vec<String> {
    fn one(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.extend(
                s.split([',', ';'])
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(String::from),
            ),
            Value::Object(o) => {
                if let Some(s) = ["email", "address"]
                    .iter()
                    .find_map(|k| o.get(*k).and_then(Value::as_str))
                {
                    one(&Value::from(s), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    match v {
        Some(Value::Array(items)) => items.iter().for_each(|i| one(i, &mut out)),
        Some(other) => one(other, &mut out),
        None => {}
    }
    out
}

/// The host (and port) of a URL, lower-cased, without user info.
fn host_of(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_names() {
        assert_eq!(words("writeFile"), ["write", "file"]);
        assert_eq!(words("send-email_now"), ["send", "email", "now"]);
        assert_eq!(words("rmdir"), ["rmdir"]);
    }

    #[test]
    fn hosts() {
        assert_eq!(
            host_of("https://u:p@Example.COM:8443/a?b").as_deref(),
            Some("example.com:8443")
        );
        assert_eq!(host_of("no-scheme"), None);
        assert_eq!(host_of("https://"), None);
    }
}
