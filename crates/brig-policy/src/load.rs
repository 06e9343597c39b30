//! Loading policy files: parse, check Brig's annotations, name, validate, merge.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{Policy, PolicyId, PolicySet, ValidationMode, Validator};
use miette::Diagnostic;

use crate::error::PolicyError;
use crate::schema::schema;

/// The annotation naming a policy.
pub(crate) const ID_ANNOTATION: &str = "id";
/// The annotation making a `forbid` an approval gate.
pub(crate) const APPROVAL_ANNOTATION: &str = "approval";
/// The only value `@approval` takes.
pub(crate) const APPROVAL_REQUIRED: &str = "required";

/// A validated policy set, ready to evaluate.
#[derive(Debug)]
pub(crate) struct Compiled {
    /// Every policy.
    pub full: PolicySet,
    /// Every policy but the approval gates: what would decide once a human approves.
    pub without_approval: PolicySet,
    /// The ids of the approval gates.
    pub approval: HashSet<PolicyId>,
}

/// Load every `*.cedar` file of `dir` (not recursive), in file name order.
pub(crate) fn load_dir(dir: &Path) -> Result<Compiled, PolicyError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PolicyError::Io { path, source }
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.extension().is_some_and(|e| e == "cedar") && path.is_file() {
            paths.push(path);
        }
    }
    if paths.is_empty() {
        return Err(PolicyError::NoPolicies {
            dir: dir.to_path_buf(),
        });
    }
    paths.sort();
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        files.push((path, text));
    }
    compile(&files)
}

/// Compile named sources (file path, text) into one set.
pub(crate) fn compile(files: &[(PathBuf, String)]) -> Result<Compiled, PolicyError> {
    let mut full = PolicySet::new();
    let mut without_approval = PolicySet::new();
    let mut approval = HashSet::new();
    let mut origin: HashMap<PolicyId, PathBuf> = HashMap::new();
    for (file, text) in files {
        for policy in compile_file(file, text)? {
            let id = policy.id().clone();
            if let Some(first) = origin.get(&id) {
                return Err(PolicyError::DuplicateId {
                    id: id.to_string(),
                    file: file.clone(),
                    first: first.clone(),
                });
            }
            origin.insert(id.clone(), file.clone());
            if policy.annotation(APPROVAL_ANNOTATION).is_some() {
                approval.insert(id);
            } else {
                add(&mut without_approval, policy.clone(), file)?;
            }
            add(&mut full, policy, file)?;
        }
    }
    Ok(Compiled {
        full,
        without_approval,
        approval,
    })
}

fn add(set: &mut PolicySet, policy: Policy, file: &Path) -> Result<(), PolicyError> {
    let id = policy.id().to_string();
    set.add(policy).map_err(|e| PolicyError::Parse {
        file: file.to_path_buf(),
        line: 1,
        column: 1,
        reason: format!("policy {id}: {e}"),
    })
}

/// The display name of a file in generated policy ids.
fn file_name(file: &Path) -> String {
    file.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string())
}

/// Parse one file, check annotations, give each policy its Brig id, validate.
fn compile_file(file: &Path, text: &str) -> Result<Vec<Policy>, PolicyError> {
    let parsed = PolicySet::from_str(text).map_err(|errs| {
        let (line, column) = first_label(&errs, text);
        let mut reasons: Vec<String> = errs.iter().map(reason_of).collect();
        reasons.dedup();
        PolicyError::Parse {
            file: file.to_path_buf(),
            line,
            column,
            reason: reasons.join("; "),
        }
    })?;
    let parse_error = |line: usize, reason: String| PolicyError::Parse {
        file: file.to_path_buf(),
        line,
        column: 1,
        reason,
    };
    if parsed.templates().next().is_some() {
        return Err(parse_error(
            annotation_line(text, "", 0).unwrap_or(1),
            "policy templates (?principal, ?resource) are not supported".into(),
        ));
    }

    // Cedar names the policies of one text policy0, policy1, … in source order.
    let mut policies: Vec<(usize, &Policy)> = parsed
        .policies()
        .map(|p| {
            let index = p
                .id()
                .to_string()
                .strip_prefix("policy")
                .and_then(|n| n.parse().ok())
                .unwrap_or(usize::MAX);
            (index, p)
        })
        .collect();
    policies.sort_by_key(|(index, _)| *index);

    let mut named = Vec::with_capacity(policies.len());
    let (mut nth_approval, mut nth_id) = (0, 0);
    for (index, policy) in policies {
        if let Some(value) = policy.annotation(APPROVAL_ANNOTATION) {
            let line = annotation_line(text, APPROVAL_ANNOTATION, nth_approval).unwrap_or(1);
            nth_approval += 1;
            if value != APPROVAL_REQUIRED {
                return Err(parse_error(
                    line,
                    format!("@approval takes only \"required\", not {value:?}"),
                ));
            }
            if policy.effect() != cedar_policy::Effect::Forbid {
                return Err(parse_error(
                    line,
                    "@approval(\"required\") belongs on a forbid policy (the gate that approval lifts)".into(),
                ));
            }
        }
        let id = match policy.annotation(ID_ANNOTATION) {
            Some(id) => {
                let line = annotation_line(text, ID_ANNOTATION, nth_id).unwrap_or(1);
                nth_id += 1;
                if id.trim().is_empty() || id.contains('#') {
                    return Err(parse_error(
                        line,
                        format!("@id {id:?} must be non-empty and must not contain '#'"),
                    ));
                }
                id.to_string()
            }
            None => format!("{}#{index}", file_name(file)),
        };
        named.push(policy.new_id(PolicyId::new(id)));
    }

    // Validate this file's policies on their own, so errors point into this file.
    let mut set = PolicySet::new();
    for policy in &named {
        add(&mut set, policy.clone(), file)?;
    }
    let result = Validator::new(schema().clone()).validate(&set, ValidationMode::Strict);
    if let Some(err) = result.validation_errors().next() {
        let (line, column) = first_label(err, text);
        return Err(PolicyError::Invalid {
            file: file.to_path_buf(),
            line,
            column,
            policy: err.policy_id().to_string(),
            reason: reason_of(err),
        });
    }
    // Warnings mean a policy that can never apply (e.g. an action on a resource type it
    // does not take) or a confusable identifier: refuse them too, a silent no-op policy
    // is a hole.
    if let Some(warning) = result.validation_warnings().next() {
        let (line, column) = first_label(warning, text);
        return Err(PolicyError::Invalid {
            file: file.to_path_buf(),
            line,
            column,
            policy: warning.policy_id().to_string(),
            reason: reason_of(warning),
        });
    }
    Ok(named)
}

/// The message and, when Cedar has one, its help.
fn reason_of(diag: &(impl Diagnostic + ?Sized)) -> String {
    match diag.help() {
        Some(help) => format!("{diag} ({help})"),
        None => diag.to_string(),
    }
}

/// 1-based line and column of a diagnostic's first source label, (1, 1) without one.
fn first_label(diag: &(impl Diagnostic + ?Sized), text: &str) -> (usize, usize) {
    diag.labels()
        .and_then(|mut labels| labels.next())
        .map(|label| line_col(text, label.offset()))
        .unwrap_or((1, 1))
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The 1-based line of the `nth` (0-based) `@key` annotation outside `//` comments
/// (with an empty key: the first line that is not blank or a comment).
fn annotation_line(text: &str, key: &str, nth: usize) -> Option<usize> {
    let mut seen = 0;
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        if key.is_empty() {
            if !code.trim().is_empty() {
                return Some(i + 1);
            }
            continue;
        }
        let needle = format!("@{key}");
        for (pos, _) in code.match_indices(&needle) {
            let rest = code[pos + needle.len()..].trim_start();
            if rest.starts_with('(') {
                if seen == nth {
                    return Some(i + 1);
                }
                seen += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_lines_and_chars() {
        let text = "ab\ncé\nxyz";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, 6), (2, 3)); // after the two-byte é
        assert_eq!(line_col(text, 8), (3, 2));
        assert_eq!(line_col(text, 100), (3, 4));
    }

    #[test]
    fn annotation_lines_skip_comments() {
        let text = "// @approval(\"x\")\n@id(\"a\")\n@approval(\"required\")\nforbid(principal, action, resource);\n@approval (\"no\")";
        assert_eq!(annotation_line(text, "approval", 0), Some(3));
        assert_eq!(annotation_line(text, "approval", 1), Some(5));
        assert_eq!(annotation_line(text, "id", 0), Some(2));
        assert_eq!(annotation_line(text, "", 0), Some(2));
    }
}
