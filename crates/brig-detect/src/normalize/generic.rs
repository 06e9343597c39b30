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

const BODY_KEYS: &[&str] = &[
    "body",
    "data",
    "json",
    "payload",
    "content",
    "form",
    "files",
    "file_content",
    "text",
    "message",
];

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
        if let Some(host) = brig_model::net::url_authority(url) {
            a.dest = Some(host);
        }
        let method = obj
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase);
        let sent = body_bytes(obj);
        if let Some(m) = &method {
            a.attrs.insert("method".into(), Value::from(m.as_str()));
        }
        if sent > 0 || matches!(method.as_deref(), Some("POST" | "PUT" | "PATCH")) {
            a.attrs.insert("uploads".into(), Value::Bool(true));
            a.attrs.insert("bytes".into(), Value::from(sent));
        }
        out.push(a);
    }

    // Payments: a payee and an amount.
    if has(PAYMENT_WORDS) && AMOUNT_KEYS.iter().any(|k| obj.contains_key(*k)) {
        let payee = PAYEE_KEYS
            .iter()
            .find_map(|k| obj.get(*k).map(scalar_text))
            .unwrap_or_else(|| "(unknown payee)".into());
        let mut a = Action::new(ActionKind::PaymentSend, payee);
        for k in AMOUNT_KEYS.iter().chain(["currency"].iter()) {
            if let Some(v) = obj.get(*k) {
                a.attrs.insert((*k).into(), v.clone());
            }
        }
        out.push(a);
        return out;
    }

    // Messages.
    let sent = body_bytes(obj);
    let before = out.len();
    for key in RECIPIENT_KEYS {
        if *key == "to" && to_is_path {
            continue;
        }
        for r in recipients(obj.get(*key)) {
            if is_plain_path(&r) {
                continue;
            }
            out.push(message(r, sent));
        }
    }
    if out.len() == before && has(MESSAGE_WORDS) {
        for key in CHANNEL_KEYS {
            if let Some(v) = obj.get(*key).filter(|v| !v.is_null()) {
                out.push(message(scalar_text(v), sent));
            }
        }
    }
    if !out.is_empty() {
        return out;
    }

    // Record systems (tickets, customers, invoices…), by the verb and noun of the name.
    records(&words, obj, &mut out);
    out
}

const PAYMENT_WORDS: &[&str] = &[
    "pay", "payment", "payout", "refund", "wire", "money", "transfer",
];
const AMOUNT_KEYS: &[&str] = &["amount", "amount_cents", "amount_usd", "sum", "value"];
const PAYEE_KEYS: &[&str] = &[
    "recipient",
    "to",
    "payee",
    "iban",
    "account",
    "account_id",
    "destination",
    "beneficiary",
];
const MESSAGE_WORDS: &[&str] = &[
    "send", "post", "message", "chat", "notify", "reply", "forward", "sms", "slack", "publish",
    "tweet", "comment",
];
const CHANNEL_KEYS: &[&str] = &[
    "channel",
    "channel_id",
    "chat_id",
    "thread",
    "room",
    "phone",
    "number",
    "webhook",
];

/// A message to one recipient, with the size of what it carries.
fn message(recipient: String, bytes: usize) -> Action {
    let mut a = Action::new(ActionKind::MessageSend, recipient.clone());
    if let Some((_, domain)) = recipient.rsplit_once('@') {
        a.attrs
            .insert("domain".into(), Value::from(domain.to_ascii_lowercase()));
    }
    if bytes > 0 {
        a.attrs.insert("bytes".into(), Value::from(bytes));
    }
    a
}

/// Bytes of the body-like arguments of a call (what it sends).
fn body_bytes(obj: &serde_json::Map<String, Value>) -> usize {
    BODY_KEYS
        .iter()
        .filter_map(|k| obj.get(*k))
        .map(|v| match v {
            Value::String(s) => s.len(),
            Value::Null => 0,
            other => other.to_string().len(),
        })
        .sum()
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

const EXPORT_VERBS: &[&str] = &["export", "dump", "download", "bulk", "extract"];
const READ_VERBS: &[&str] = &[
    "get", "read", "lookup", "search", "list", "fetch", "query", "find", "show", "view",
    "describe", "retrieve",
];
const RECORD_WRITE_VERBS: &[&str] = &[
    "update", "create", "add", "set", "insert", "modify", "close", "assign", "delete", "remove",
    "edit", "patch", "resolve", "merge", "archive", "tag", "label",
];
const ACCOUNT_WORDS: &[&str] = &[
    "password",
    "passwd",
    "mfa",
    "2fa",
    "otp",
    "recovery",
    "verification",
    "email",
    "phone",
    "apikey",
    "login",
];
const ACCOUNT_VERBS: &[&str] = &[
    "reset", "change", "update", "set", "rotate", "disable", "trigger", "resend", "revoke",
    "enable",
];
const GRANT_WORDS: &[&str] = &[
    "role",
    "roles",
    "permission",
    "permissions",
    "admin",
    "grant",
];
const SECRET_WORDS: &[&str] = &[
    "secret",
    "secrets",
    "credential",
    "credentials",
    "token",
    "tokens",
    "apikey",
    "keys",
];

/// `get_invoices {account_id}` → `data.read` of dataset `invoices` (attrs `record` =
/// the id); `export_customers` → `data.export` of `customers`; `update_ticket {ticket_id}`
/// → `data.write` of `tickets`; `trigger_password_reset {customer_id}` →
/// `account.change` of that customer (attrs `what` = `password`); `grant_role {user}` →
/// `perm.grant` to that user; `get_integration_secrets` → `cred.access`.
fn records(words: &[String], obj: &serde_json::Map<String, Value>, out: &mut Vec<Action>) {
    let is = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    let verb = |list: &[&str]| words.first().is_some_and(|w| list.contains(&w.as_str()));
    let id_key = |k: &str| k == "id" || k.ends_with("_id") || k.ends_with("Id");
    let record = obj
        .iter()
        .filter(|(k, _)| id_key(k))
        .find_map(|(_, v)| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
    // Reads and writes count as record-system calls only with a record to name (an id, a
    // query): `get_invoices {account_id}` is, `get-sum {a, b}` is some other tool.
    let addressed = record.is_some()
        || ["query", "filter", "email", "customer", "account"]
            .iter()
            .any(|k| obj.contains_key(*k));
    let kind = if is(GRANT_WORDS) && (verb(RECORD_WRITE_VERBS) || is(&["grant"])) {
        ActionKind::PermGrant
    } else if is(ACCOUNT_WORDS) && (is(ACCOUNT_VERBS) || verb(RECORD_WRITE_VERBS)) {
        ActionKind::AccountChange
    } else if is(SECRET_WORDS) && verb(READ_VERBS) {
        ActionKind::CredAccess
    } else if is(EXPORT_VERBS) {
        ActionKind::DataExport
    } else if verb(READ_VERBS) && addressed {
        ActionKind::DataRead
    } else if verb(RECORD_WRITE_VERBS) && addressed {
        ActionKind::DataWrite
    } else {
        return;
    };
    let noun: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .filter(|w| {
            ![READ_VERBS, RECORD_WRITE_VERBS, EXPORT_VERBS, ACCOUNT_VERBS]
                .iter()
                .any(|l| l.contains(w))
        })
        .collect();
    let noun = if noun.is_empty() {
        words.join("_")
    } else {
        noun.join("_")
    };
    let subject = [
        "user_id",
        "customer_id",
        "account_id",
        "user",
        "username",
        "email",
        "principal",
    ]
    .iter()
    .find_map(|k| {
        obj.get(*k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    });
    let target = match kind {
        // Who is changed or granted: the account, when the call names it.
        ActionKind::AccountChange | ActionKind::PermGrant => {
            subject.map(str::to_string).unwrap_or_else(|| noun.clone())
        }
        ActionKind::CredAccess => match &record {
            Some(id) => format!("{noun}/{id}"),
            None => noun.clone(),
        },
        // The dataset (table) is the target, as policies name it (`Dataset::"tickets"`).
        _ if noun.ends_with('s') => noun.clone(),
        _ => format!("{noun}s"),
    };
    let mut a = Action::new(kind, target);
    if let Some(id) = record {
        a.attrs.insert("record".into(), Value::from(id));
    }
    if matches!(kind, ActionKind::AccountChange | ActionKind::PermGrant) {
        a.attrs.insert("what".into(), Value::from(noun));
    }
    for k in [
        "segment", "fields", "format", "limit", "query", "status", "email", "role",
    ] {
        if let Some(v) = obj.get(k) {
            a.attrs.insert(k.into(), v.clone());
        }
    }
    out.push(a);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_names() {
        assert_eq!(words("writeFile"), ["write", "file"]);
        assert_eq!(words("send-email_now"), ["send", "email", "now"]);
        assert_eq!(words("rmdir"), ["rmdir"]);
    }
}
