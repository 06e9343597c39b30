//! Secrets in payloads: found when an event is sealed, redacted wherever a person reads one.
//!
//! One scanner for the whole of Brig. [`NewEvent::seal`](crate::NewEvent::seal) records in
//! the leaf which payload parts hold which kinds of secret (never the values: see
//! [`Event::secrets`](crate::Event)); readable outputs — evidence sessions, diffs, timelines,
//! OCSF, the SIEM export, post-mortems, `brig incidents show`, the API — pass their text
//! through [`redact_text`] / [`redact_value`], which put `[REDACTED <kind>]` in place of
//! each value. The raw payload stays bound by its salted digest in the leaf, and can be
//! erased (`brig ledger erase`).
//!
//! The patterns are precise rather than broad: a token format with a fixed prefix
//! (`AKIA…`, `ghp_…`, `xoxb-…`, `sk_live_…`, `glpat-…`), a PEM private-key block, a JWT's
//! three base64url parts, credentials in a URL's user-info, and values given to a field
//! whose *name* says password or secret key. A bare 40-character string is not a secret
//! unless something names it one: false positives blank out evidence a responder needs.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};
use serde_json::Value;

/// Every kind of secret the scanner names, as it appears in leaves and redactions.
pub const KINDS: &[&str] = &[
    "aws-access-key-id",
    "aws-secret-access-key",
    "gcp-service-account-key",
    "azure-connection-string",
    "private-key",
    "authorization-header",
    "bearer-token",
    "github-token",
    "gitlab-token",
    "slack-token",
    "slack-webhook",
    "stripe-key",
    "openai-api-key",
    "anthropic-api-key",
    "jwt",
    "url-password",
    "password-field",
];

/// A pattern: its kind, and its regex. The span redacted is the group named `s` when the
/// pattern has one (the value after a name), else the whole match.
struct Pattern {
    kind: &'static str,
    re: &'static str,
}

/// Values that stand for a secret without being one: left alone, so that configuration
/// templates and documentation do not read as leaks.
const PLACEHOLDER: &str = r#"^(?i:true|false|null|none|nil|undefined|required|optional|string|str|bytes|text|secretstr|redacted|changeme|xxx+|\*+|\.+|-+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%\(?[a-z_]*\)?s|\{\{[^}]*\}\}|\[REDACTED[^\]]*\])$"#;

/// Field names whose string value is a password or a secret key.
const PASSWORD_NAME: &str = r"(?i:[A-Za-z0-9_.-]*(?:password|passwd|passphrase|client_secret|secret_key|secret_access_key))";

const PATTERNS: &[Pattern] = &[
    Pattern {
        kind: "private-key",
        // The body (base64, `Proc-Type:`/`DEK-Info:` headers, newlines escaped or not) up to
        // the END line when there is one: a truncated key is still a key.
        re: r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----(?:[A-Za-z0-9+/=\s\\:,]|-[A-Za-z])*(?:-----END (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----)?",
    },
    Pattern {
        kind: "aws-access-key-id",
        re: r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b",
    },
    Pattern {
        kind: "aws-secret-access-key",
        re: r#"(?i:aws_?secret_?(?:access_?)?key|secretaccesskey)["']?\s*[:=]\s*["']?(?P<s>[A-Za-z0-9/+]{40})\b"#,
    },
    Pattern {
        kind: "gcp-service-account-key",
        re: r#""private_key_id"\s*:\s*"(?P<s>[a-f0-9]{40})""#,
    },
    Pattern {
        kind: "azure-connection-string",
        re: r"(?i:AccountKey|SharedAccessKey|SharedAccessSignature|sig)=(?P<s>[A-Za-z0-9+/%]{30,}={0,2})",
    },
    Pattern {
        kind: "authorization-header",
        re: r#"(?i:\b(?:proxy-)?authorization)["']?\s*[:=]\s*["']?(?i:basic|digest|token|apikey)\s+(?P<s>[A-Za-z0-9._~+/=-]{8,})"#,
    },
    Pattern {
        kind: "bearer-token",
        re: r"\b(?i:bearer)\s+(?P<s>[A-Za-z0-9._~+/-]{16,}=*)",
    },
    Pattern {
        kind: "github-token",
        re: r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})\b",
    },
    Pattern {
        kind: "gitlab-token",
        re: r"\bglpat-[A-Za-z0-9_-]{20,}",
    },
    Pattern {
        kind: "slack-token",
        re: r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    },
    Pattern {
        kind: "slack-webhook",
        re: r"https://hooks\.slack\.com/services/(?P<s>T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{16,})",
    },
    Pattern {
        kind: "stripe-key",
        re: r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b",
    },
    Pattern {
        kind: "anthropic-api-key",
        re: r"\bsk-ant-[A-Za-z0-9_-]{32,}",
    },
    Pattern {
        kind: "openai-api-key",
        re: r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}",
    },
    Pattern {
        kind: "jwt",
        re: r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}",
    },
    Pattern {
        kind: "url-password",
        re: r#"\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/?#@"'<>\\]+:(?P<s>[^\s/?#@"'<>\\]+)@[A-Za-z0-9\[]"#,
    },
];

/// `password=…`, `"password": "…"`, `DB_PASSWORD: …` in free text.
const PASSWORD_FIELD: &str = r#"(?:^|[^A-Za-z0-9_])(?P<n>NAME)\\?["']?\s*[:=]\s*(?:\\?"(?P<q>(?:[^"\\]|\\[^"])+)\\?"|'(?P<a>[^'\s]+)'|(?P<s>[^\s"'&,;{}\[\]()<>$%*=][^\s"'&,;{}\[\]()<>]*))"#;

struct Scanner {
    any: RegexSet,
    each: Vec<(&'static str, Regex)>,
    password: Regex,
    password_name: Regex,
    placeholder: Regex,
}

static SCANNER: LazyLock<Scanner> = LazyLock::new(|| {
    let password = PASSWORD_FIELD.replace("NAME", PASSWORD_NAME);
    let mut all: Vec<&str> = PATTERNS.iter().map(|p| p.re).collect();
    all.push(&password);
    Scanner {
        any: RegexSet::new(&all).expect("secret patterns compile"),
        each: PATTERNS
            .iter()
            .map(|p| (p.kind, Regex::new(p.re).expect("secret pattern compiles")))
            .collect(),
        password: Regex::new(&password).expect("password pattern compiles"),
        password_name: Regex::new(&format!("^{PASSWORD_NAME}$")).expect("name pattern"),
        placeholder: Regex::new(PLACEHOLDER).expect("placeholder pattern"),
    }
});

/// One secret found in a text: its kind and the byte range of its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub kind: &'static str,
    pub start: usize,
    pub end: usize,
}

/// The secrets in `text`, in order, none overlapping (where two patterns overlap, the one
/// that starts first, then the longer, wins).
pub fn find(text: &str) -> Vec<Finding> {
    let s = &*SCANNER;
    // Almost no text holds a secret: asking whether any pattern matches stops at the first
    // match and is far cheaper than asking which ones do (callgrind: half the scan's cost).
    if !s.any.is_match(text) {
        return Vec::new();
    }
    let hits = s.any.matches(text);
    let mut found = Vec::new();
    for (i, (kind, re)) in s.each.iter().enumerate() {
        if !hits.matched(i) {
            continue;
        }
        for c in re.captures_iter(text) {
            let m = c.name("s").unwrap_or_else(|| c.get(0).expect("group 0"));
            found.push(Finding {
                kind,
                start: m.start(),
                end: m.end(),
            });
        }
    }
    if hits.matched(s.each.len()) {
        for c in s.password.captures_iter(text) {
            let Some(m) = c.name("q").or_else(|| c.name("a")).or_else(|| c.name("s")) else {
                continue;
            };
            // sudoers' `NOPASSWD:` tag names the absence of a password.
            let nopasswd = c
                .name("n")
                .is_some_and(|n| n.as_str().eq_ignore_ascii_case("nopasswd"));
            if !nopasswd && !s.placeholder.is_match(m.as_str()) && !is_code(&c, text) {
                found.push(Finding {
                    kind: "password-field",
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
    }
    found.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
    let mut out: Vec<Finding> = Vec::with_capacity(found.len());
    for f in found {
        match out.last() {
            Some(prev) if f.start < prev.end => {}
            _ => out.push(f),
        }
    }
    out
}

/// An unquoted value that reads as source code rather than a password: a call or an index
/// (`get_password()`, `form['password']`) or a dotted name (`self.password`,
/// `os.environ.get`). Agents edit authentication code; its diffs must stay readable.
fn is_code(c: &regex::Captures<'_>, text: &str) -> bool {
    let Some(m) = c.name("s") else {
        return false;
    };
    let called = matches!(text[m.end()..].chars().next(), Some('(' | '['));
    let v = m.as_str();
    let dotted = v.contains('.')
        && v.split('.').all(|p| {
            p.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    called || dotted
}

/// `text` with each secret's value replaced by `[REDACTED <kind>]`.
pub fn redact_text(text: &str) -> String {
    let found = find(text);
    if found.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in found {
        out.push_str(&text[at..f.start]);
        out.push_str(&redaction(f.kind));
        at = f.end;
    }
    out.push_str(&text[at..]);
    out
}

/// What stands in for a secret of `kind`.
pub fn redaction(kind: &str) -> String {
    format!("[REDACTED {kind}]")
}

/// The kinds of secret in a JSON value: in its strings, and in the string values of fields
/// named like a password.
pub fn scan_value(v: &Value) -> BTreeSet<String> {
    let mut kinds = BTreeSet::new();
    walk(v, &mut |found| {
        kinds.insert(found.to_string());
    });
    kinds
}

fn walk(v: &Value, note: &mut dyn FnMut(&'static str)) {
    match v {
        Value::String(s) => find(s).iter().for_each(|f| note(f.kind)),
        Value::Array(a) => a.iter().for_each(|x| walk(x, note)),
        Value::Object(o) => {
            for (k, x) in o {
                match field_kind(k, x) {
                    Some(kind) => note(kind),
                    None => walk(x, note),
                }
            }
        }
        _ => {}
    }
}

/// The kind of secret a field holds by its name alone (`"password": "…"`, an
/// `Authorization` header), when its value is a real string rather than a placeholder.
fn field_kind(name: &str, v: &Value) -> Option<&'static str> {
    let s = &*SCANNER;
    let Value::String(text) = v else {
        return None;
    };
    if text.is_empty() || s.placeholder.is_match(text) || text.starts_with("[REDACTED ") {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    if lower == "private_key_id" {
        Some("gcp-service-account-key")
    } else if lower == "authorization" || lower == "proxy-authorization" {
        Some("authorization-header")
    } else if s.password_name.is_match(name) {
        Some(
            if lower.contains("aws") || lower.contains("secret_access_key") {
                "aws-secret-access-key"
            } else {
                "password-field"
            },
        )
    } else {
        None
    }
}

/// A copy of `v` with every secret redacted: values of password-like fields whole, secrets
/// inside other strings in place.
pub fn redact_value(v: &Value) -> Value {
    let mut out = v.clone();
    redact_in_place(&mut out);
    out
}

/// [`redact_value`] without the copy.
pub fn redact_in_place(v: &mut Value) {
    match v {
        Value::String(s) if SCANNER.any.is_match(s) => *s = redact_text(s),
        Value::Array(a) => a.iter_mut().for_each(redact_in_place),
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                match field_kind(k, x) {
                    Some(kind) => *x = Value::String(redaction(kind)),
                    None => redact_in_place(x),
                }
            }
        }
        _ => {}
    }
}

/// An event's readable fields with secrets redacted — action targets and destinations,
/// attributes, the decision's reason — for displays built from leaves (an agent may have
/// put a password in a URL it fetched). The copy no longer hashes to its leaf: for reading
/// only.
pub fn redact_event(e: &mut crate::Event) {
    let text = |s: &mut String| {
        if SCANNER.any.is_match(s) {
            *s = redact_text(s);
        }
    };
    for a in &mut e.actions {
        text(&mut a.target);
        if let Some(d) = &mut a.dest {
            text(d);
        }
        a.attrs.values_mut().for_each(redact_in_place);
    }
    e.attrs.values_mut().for_each(redact_in_place);
    if let Some(r) = e.decision.as_mut().and_then(|d| d.reason.as_mut()) {
        text(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kinds(text: &str) -> Vec<&'static str> {
        find(text).into_iter().map(|f| f.kind).collect()
    }

    // Fake keys: AWS's documented examples, and made-up tokens in each vendor's format.
    const AWS_ID: &str = "AKIAIOSFODNN7EXAMPLE";
    const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n-----END RSA PRIVATE KEY-----";

    #[test]
    fn each_kind_is_found_and_redacted() {
        let cases: &[(&str, &str, &str)] = &[
            ("aws-access-key-id", &format!("export AWS_ACCESS_KEY_ID={AWS_ID}"), AWS_ID),
            (
                "aws-secret-access-key",
                &format!("aws_secret_access_key = {AWS_SECRET}"),
                AWS_SECRET,
            ),
            (
                "gcp-service-account-key",
                r#"{"type": "service_account", "private_key_id": "0123456789abcdef0123456789abcdef01234567"}"#,
                "0123456789abcdef0123456789abcdef01234567",
            ),
            (
                "azure-connection-string",
                "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net",
                "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
            ),
            ("private-key", PEM, "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"),
            (
                "authorization-header",
                "curl -H 'Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l' https://api.example.com",
                "YWxhZGRpbjpvcGVuc2VzYW1l",
            ),
            (
                "bearer-token",
                "Authorization: Bearer 3f9a0c2b7e4d4a51b8c6d2e1f0a9b8c7",
                "3f9a0c2b7e4d4a51b8c6d2e1f0a9b8c7",
            ),
            (
                "github-token",
                "git clone https://x:ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8@github.com/o/r",
                "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
            ),
            ("gitlab-token", "PRIVATE-TOKEN: glpat-xXyYzZ0123456789abcd", "glpat-xXyYzZ0123456789abcd"),
            (
                "slack-token",
                "SLACK_BOT_TOKEN=xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx",
                "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx",
            ),
            (
                "slack-webhook",
                "post to https://hooks.slack.com/services/T0001AAAA/B0002BBBB/XXXXXXXXXXXXXXXXXXXXXXXX now",
                "XXXXXXXXXXXXXXXXXXXXXXXX",
            ),
            ("stripe-key", "stripe.api_key = \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
            (
                "openai-api-key",
                "OPENAI_API_KEY=sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78",
                "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78",
            ),
            (
                "anthropic-api-key",
                "ANTHROPIC_API_KEY=sk-ant-api03-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56",
                "sk-ant-api03-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56",
            ),
            (
                "jwt",
                "token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            ),
            ("url-password", "psql postgres://app:hunter2x@db.internal:5432/prod", "hunter2x"),
            ("password-field", r#"{"user": "ops", "password": "Tr0ub4dor&3"}"#, "Tr0ub4dor&3"),
            ("password-field", "login?user=ops&password=s3cr3t-pw&next=/", "s3cr3t-pw"),
            ("password-field", "DB_PASSWORD=correct-horse", "correct-horse"),
        ];
        for (kind, text, value) in cases {
            assert!(
                kinds(text).contains(kind),
                "{kind} in {text:?}: {:?}",
                kinds(text)
            );
            let red = redact_text(text);
            assert!(!red.contains(value), "{kind}: {red}");
            assert!(red.contains(&format!("[REDACTED {kind}]")), "{kind}: {red}");
        }
        let named: BTreeSet<&str> = cases.iter().map(|c| c.0).collect();
        assert_eq!(
            named,
            KINDS.iter().copied().collect(),
            "every kind has a case"
        );
    }

    #[test]
    fn json_fields_named_for_secrets_are_redacted_whole() {
        let v = json!({
            "headers": {"Authorization": "opaque-token-value", "Accept": "*/*"},
            "db": {"password": "hunter2", "user": "app"},
            "aws_secret_access_key": AWS_SECRET,
            "note": format!("key {AWS_ID} and more"),
            "placeholder": {"password": "${DB_PASSWORD}", "client_secret": ""},
        });
        let kinds = scan_value(&v);
        assert_eq!(
            kinds.iter().map(String::as_str).collect::<Vec<_>>(),
            [
                "authorization-header",
                "aws-access-key-id",
                "aws-secret-access-key",
                "password-field"
            ]
        );
        let red = redact_value(&v);
        let text = red.to_string();
        for secret in ["opaque-token-value", "hunter2", AWS_SECRET, AWS_ID] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(red["db"]["password"], "[REDACTED password-field]");
        assert_eq!(red["note"], "key [REDACTED aws-access-key-id] and more");
        assert_eq!(red["placeholder"]["password"], "${DB_PASSWORD}");
        assert_eq!(red["db"]["user"], "app");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "the user has passwordless sudo for ops tasks",
            "password reset mail sent to the user",
            "password: ${DB_PASSWORD}",
            "password = <your password>",
            "git log --oneline | head -n 20",
            "postgres://brig@127.0.0.1:55432/postgres",
            "https://example.com/a:b@c",
            "commit 3f9a0c2b7e4d4a51b8c6d2e1f0a9b8c73f9a0c2b",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "bearer of bad news",
            "task-0123456789abcdef",
            "ASIA is a continent; AKIA is a prefix",
            "sk-learn and sk-image are libraries",
            "monitoring ALL=(root) NOPASSWD: /usr/bin/systemctl status *",
            "def login(user, password: str) -> bool:",
            "password = request.form['password']",
            "password = get_password(user)",
            "if password == self.password:",
            "const password: string = await vault.read(path);",
            "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
        ] {
            assert!(find(text).is_empty(), "{text:?}: {:?}", find(text));
            assert_eq!(redact_text(text), text);
        }
    }

    #[test]
    fn redaction_is_stable_and_findings_do_not_overlap() {
        let text = format!("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U and {AWS_ID}");
        let once = redact_text(&text);
        assert_eq!(
            redact_text(&once),
            once,
            "a redaction is not itself a secret"
        );
        assert!(find(&once).is_empty(), "{once}");
        let f = find(&text);
        assert!(f.windows(2).all(|w| w[0].end <= w[1].start), "{f:?}");
    }
}
