//! Brig's risk register: what the organization's agents are, what they may touch, and how
//! much each thing matters.
//!
//! One TOML file (`brig.toml`; a commented example is `examples/brig.toml` at the
//! repository root) declares:
//!
//! - **workflows**, the agents that run in each, and the tools they may use;
//! - **resources** — path globs, hosts, mail domains, datasets — with their **data classes**
//!   (`pii`, `phi`, `pci`, `secrets`, `customer`, `export_controlled`, and any class the file
//!   declares under `[data_classes]`), whether changes to them are reversible and how;
//! - the organization's **internal domains** (mail and hosts inside the boundary);
//! - **contacts** to escalate to, and **playbook** settings.
//!
//! Detection reads it to know which targets carry which classes and which destinations are
//! outside; incidents read it to grade severity and to find who to call.
//!
//! # Errors
//!
//! A register is validated as a whole when loaded; the first problem is reported with the
//! file, line and column and what is wrong (an unknown key, an unknown data class, a bad
//! glob, a duplicate name). Callers refuse to start on a bad register rather than run with
//! half of it: an agent must not run unprotected because of a typo.

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// Data classes every register knows.
pub const BUILTIN_CLASSES: &[&str] = &[
    "pii",
    "phi",
    "pci",
    "secrets",
    "customer",
    "export_controlled",
];

/// How serious an incident is, from least to most.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[default]
    Advisory,
    PolicyViolation,
    SecurityIncident,
    ReportableBreach,
}

impl Severity {
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Advisory => "advisory",
            Severity::PolicyViolation => "policy_violation",
            Severity::SecurityIncident => "security_incident",
            Severity::ReportableBreach => "reportable_breach",
        }
    }

    pub const ALL: [Severity; 4] = [
        Severity::Advisory,
        Severity::PolicyViolation,
        Severity::SecurityIncident,
        Severity::ReportableBreach,
    ];
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                format!("unknown severity `{s}` (advisory, policy_violation, security_incident, reportable_breach)")
            })
    }
}

/// Why a register was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// How a change to a resource can be undone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rollback {
    /// Brig's own snapshot store (pre-images taken by the gateway).
    Snapshot,
    /// The resource is a git working tree: revert from history.
    Git,
    /// Restore from the organization's backups (named in `rollback_note`).
    Backup,
    /// Nobody can undo it automatically: a person restores it.
    Manual,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    internal_domains: Vec<Spanned<String>>,
    #[serde(default)]
    data_classes: BTreeMap<String, String>,
    #[serde(default)]
    workflow: Vec<WorkflowFile>,
    #[serde(default)]
    resource: Vec<ResourceFile>,
    #[serde(default)]
    contact: Vec<Contact>,
    #[serde(default)]
    playbook: Playbook,
    #[serde(default)]
    notify: Vec<NotifyFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotifyFile {
    kind: Spanned<String>,
    url: Spanned<String>,
    #[serde(default)]
    secret_env: Option<String>,
    #[serde(default)]
    api_key_env: Option<String>,
    #[serde(default)]
    customer_id: Option<u32>,
    #[serde(default = "default_notify_at")]
    at: Severity,
}

/// Where incidents are pushed: a webhook, TheHive 5, DFIR-IRIS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyTarget {
    pub kind: NotifyKind,
    /// `http(s)://…`; for TheHive and IRIS the server's base URL.
    pub url: String,
    /// Environment variable holding the webhook's HMAC secret (never the secret itself:
    /// the register is not a secret store).
    pub secret_env: Option<String>,
    /// Environment variable holding TheHive's or IRIS's API key.
    pub api_key_env: Option<String>,
    /// IRIS customer the alerts belong to (default 1).
    pub customer_id: Option<u32>,
    /// Pushed incidents at this severity and above.
    pub at: Severity,
}

/// The receivers Brig can push incidents to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyKind {
    /// A JSON POST signed with HMAC-SHA256.
    Webhook,
    /// TheHive 5's alert API (`POST /api/v1/alert`).
    TheHive,
    /// DFIR-IRIS's alert API (`POST /alerts/add`).
    Iris,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkflowFile {
    name: Spanned<String>,
    #[serde(default)]
    agents: Vec<String>,
    #[serde(default)]
    tools: Vec<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    environment: Option<Environment>,
    #[serde(default)]
    controls: Option<Controls>,
}

/// Where a workflow's agents run: test and production identities are kept apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Test,
    Production,
}

impl Environment {
    pub fn as_str(&self) -> &'static str {
        match self {
            Environment::Test => "test",
            Environment::Production => "production",
        }
    }
}

/// Whether a capability of a workflow's agents can be turned off on demand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Control {
    /// The agents do not have it at all.
    Absent,
    /// It can be disabled on demand (a flag, a setting, a revoked connector).
    OffSwitch,
    /// It is on and cannot be disabled without redeploying.
    AlwaysOn,
}

impl Control {
    pub fn as_str(&self) -> &'static str {
        match self {
            Control::Absent => "absent",
            Control::OffSwitch => "off-switch",
            Control::AlwaysOn => "always-on",
        }
    }
}

/// `[workflow.controls]`: how the workflow's memory, external browsing and autonomous
/// retries can be disabled (section 8 of the checklist). Undeclared: not known.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Controls {
    #[serde(default)]
    pub memory: Option<Control>,
    #[serde(default)]
    pub browsing: Option<Control>,
    #[serde(default)]
    pub retries: Option<Control>,
}

impl Controls {
    /// Each control with its name.
    pub fn each(&self) -> [(&'static str, Option<Control>); 3] {
        [
            ("memory", self.memory),
            ("browsing", self.browsing),
            ("retries", self.retries),
        ]
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceFile {
    name: Spanned<String>,
    #[serde(default)]
    paths: Vec<Spanned<String>>,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    datasets: Vec<String>,
    #[serde(default)]
    classes: Vec<Spanned<String>>,
    #[serde(default = "yes")]
    reversible: bool,
    #[serde(default)]
    rollback: Option<Rollback>,
    #[serde(default)]
    rollback_note: Option<String>,
    #[serde(default)]
    owner: Option<String>,
}

fn yes() -> bool {
    true
}

/// Someone to escalate to.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: String,
    /// `incident_commander`, `legal`, `privacy`, `workflow_owner`, `security`, …
    pub role: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// Told about incidents at this severity and above.
    #[serde(default = "default_notify_at")]
    pub notify_at: Severity,
}

fn default_notify_at() -> Severity {
    Severity::SecurityIncident
}

/// What Brig does on its own when an incident reaches a severity.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    /// Preserve evidence, then contain the agent, at this severity and above.
    #[serde(default = "default_contain_at")]
    pub contain_at: Severity,
    /// Contain automatically (default). `false` is monitor mode: at `contain_at` the
    /// evidence is still preserved and people told, but nothing is stopped.
    #[serde(default = "yes")]
    pub contain: bool,
    /// Also freeze the agent's whole workflow.
    #[serde(default)]
    pub freeze_workflow: bool,
    /// Cancel the agent's calls waiting for approval.
    #[serde(default = "yes")]
    pub cancel_approvals: bool,
    /// Paths to quarantine (globs).
    #[serde(default)]
    pub quarantine: Vec<String>,
    /// Minutes after its last alert an incident keeps taking new alerts of the same key.
    #[serde(default = "default_group_minutes")]
    pub group_minutes: u32,
    /// What alerts must share to join one incident: the same `agent` (default), the same
    /// `session`, or the same `workflow`.
    #[serde(default)]
    pub group_by: GroupBy,
}

/// The key alerts are grouped into incidents by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    #[default]
    Agent,
    Session,
    Workflow,
}

fn default_contain_at() -> Severity {
    Severity::SecurityIncident
}

fn default_group_minutes() -> u32 {
    60
}

impl Default for Playbook {
    fn default() -> Self {
        Playbook {
            contain_at: default_contain_at(),
            contain: true,
            freeze_workflow: false,
            cancel_approvals: true,
            quarantine: Vec::new(),
            group_minutes: default_group_minutes(),
            group_by: GroupBy::Agent,
        }
    }
}

/// A workflow and its agents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workflow {
    pub name: String,
    pub agents: Vec<String>,
    /// Tools its agents may use (`*`: any). Empty: not declared.
    pub tools: Vec<String>,
    pub owner: Option<String>,
    /// `test` or `production`: an agent id must not serve both.
    pub environment: Option<Environment>,
    /// How memory, browsing and retries can be disabled.
    pub controls: Option<Controls>,
}

/// Something worth protecting.
#[derive(Clone, Debug)]
pub struct Resource {
    pub name: String,
    pub paths: Vec<String>,
    globs: GlobSet,
    pub hosts: Vec<String>,
    pub domains: Vec<String>,
    pub datasets: Vec<String>,
    pub classes: Vec<String>,
    pub reversible: bool,
    pub rollback: Option<Rollback>,
    pub rollback_note: Option<String>,
    pub owner: Option<String>,
}

impl Resource {
    /// Does a normalized target (absolute path, URL, host, mail address, dataset) lie in
    /// this resource?
    pub fn covers(&self, target: &str) -> bool {
        let t = target.to_ascii_lowercase();
        if target.starts_with('/') && self.globs.is_match(target) {
            return true;
        }
        if let Some(host) = host_of(&t) {
            if self.hosts.iter().any(|h| domain_match(&host, h)) {
                return true;
            }
        }
        if let Some((_, domain)) = t.rsplit_once('@') {
            if self.domains.iter().any(|d| domain_match(domain, d)) {
                return true;
            }
        }
        self.datasets.iter().any(|d| d.eq_ignore_ascii_case(&t))
    }
}

/// The validated register.
#[derive(Clone, Debug, Default)]
pub struct Register {
    /// Where it was loaded from (for messages).
    pub file: String,
    pub internal_domains: Vec<String>,
    /// Every known data class: the built-in ones and the file's own, with descriptions.
    pub data_classes: BTreeMap<String, String>,
    pub workflows: Vec<Workflow>,
    pub resources: Vec<Resource>,
    pub contacts: Vec<Contact>,
    pub playbook: Playbook,
    /// Where incidents are pushed.
    pub notify: Vec<NotifyTarget>,
}

impl Register {
    /// Loads and validates a register file.
    pub fn load(path: &Path) -> Result<Register, RegisterError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RegisterError::Read {
            file: file.clone(),
            source,
        })?;
        Register::parse(&text, &file)
    }

    /// Parses and validates register text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Register, RegisterError> {
        let at = |span: Option<Range<usize>>, message: String| {
            let (line, column) = line_col(text, span.map_or(0, |s| s.start));
            RegisterError::Invalid {
                file: file.to_string(),
                line,
                column,
                message,
            }
        };
        let raw: File = toml::from_str(text).map_err(|e| at(e.span(), e.message().to_string()))?;

        let mut classes: BTreeMap<String, String> = BUILTIN_CLASSES
            .iter()
            .map(|c| (c.to_string(), "built in".to_string()))
            .collect();
        for (name, about) in &raw.data_classes {
            if !is_name(name) {
                return Err(at(
                    span_of_key(text, name),
                    format!("data class `{name}`: use lowercase letters, digits and `_`"),
                ));
            }
            classes.insert(name.clone(), about.clone());
        }

        let mut internal = Vec::new();
        for d in &raw.internal_domains {
            let v = d
                .get_ref()
                .trim()
                .trim_start_matches('.')
                .to_ascii_lowercase();
            if v.is_empty() || v.contains(['/', '@', ' ']) {
                return Err(at(
                    Some(d.span()),
                    format!("internal domain `{}` is not a domain name", d.get_ref()),
                ));
            }
            internal.push(v);
        }

        let mut workflows = Vec::new();
        let mut seen = BTreeSet::new();
        for w in raw.workflow {
            if !seen.insert(w.name.get_ref().clone()) {
                return Err(at(
                    Some(w.name.span()),
                    format!("workflow `{}` is declared twice", w.name.get_ref()),
                ));
            }
            workflows.push(Workflow {
                name: w.name.into_inner(),
                agents: w.agents,
                tools: w.tools,
                owner: w.owner,
                environment: w.environment,
                controls: w.controls,
            });
        }

        let mut resources = Vec::new();
        let mut seen = BTreeSet::new();
        for r in raw.resource {
            if !seen.insert(r.name.get_ref().clone()) {
                return Err(at(
                    Some(r.name.span()),
                    format!("resource `{}` is declared twice", r.name.get_ref()),
                ));
            }
            let mut builder = GlobSetBuilder::new();
            for p in &r.paths {
                if !(p.get_ref().starts_with('/') || p.get_ref().starts_with("**/")) {
                    return Err(at(
                        Some(p.span()),
                        format!(
                            "resource `{}`: path `{}` must be absolute or start with `**/` (targets are absolute paths)",
                            r.name.get_ref(),
                            p.get_ref()
                        ),
                    ));
                }
                let glob = Glob::new(p.get_ref()).map_err(|e| {
                    at(
                        Some(p.span()),
                        format!("resource `{}`: bad glob: {e}", r.name.get_ref()),
                    )
                })?;
                builder.add(glob);
            }
            let globs = builder.build().map_err(|e| {
                at(
                    Some(r.name.span()),
                    format!("resource `{}`: {e}", r.name.get_ref()),
                )
            })?;
            for c in &r.classes {
                if !classes.contains_key(c.get_ref()) {
                    return Err(at(
                        Some(c.span()),
                        format!(
                            "resource `{}`: unknown data class `{}` (known: {}; declare your own under [data_classes])",
                            r.name.get_ref(),
                            c.get_ref(),
                            classes.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
            }
            if !r.reversible && r.rollback.is_some_and(|k| k != Rollback::Manual) {
                return Err(at(
                    Some(r.name.span()),
                    format!(
                        "resource `{}`: `reversible = false` contradicts an automatic `rollback`",
                        r.name.get_ref()
                    ),
                ));
            }
            resources.push(Resource {
                name: r.name.into_inner(),
                paths: r.paths.into_iter().map(Spanned::into_inner).collect(),
                globs,
                hosts: lower(r.hosts),
                domains: lower(r.domains),
                datasets: r.datasets,
                classes: r.classes.into_iter().map(Spanned::into_inner).collect(),
                reversible: r.reversible,
                rollback: r.rollback,
                rollback_note: r.rollback_note,
                owner: r.owner,
            });
        }

        let mut notify = Vec::new();
        for n in raw.notify {
            let kind = match n.kind.get_ref().as_str() {
                "webhook" => NotifyKind::Webhook,
                "thehive" => NotifyKind::TheHive,
                "iris" => NotifyKind::Iris,
                other => {
                    return Err(at(
                        Some(n.kind.span()),
                        format!("notify: unknown kind `{other}` (webhook, thehive, iris)"),
                    ))
                }
            };
            let url = n.url.get_ref().trim().trim_end_matches('/').to_string();
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains(' ') {
                return Err(at(
                    Some(n.url.span()),
                    format!("notify: `{}` is not an http(s) URL", n.url.get_ref()),
                ));
            }
            if kind != NotifyKind::Webhook && n.api_key_env.is_none() {
                return Err(at(
                    Some(n.kind.span()),
                    format!(
                        "notify: {} needs `api_key_env`, the environment variable holding its API key",
                        n.kind.get_ref()
                    ),
                ));
            }
            notify.push(NotifyTarget {
                kind,
                url,
                secret_env: n.secret_env,
                api_key_env: n.api_key_env,
                customer_id: n.customer_id,
                at: n.at,
            });
        }

        Ok(Register {
            notify,
            file: file.to_string(),
            internal_domains: internal,
            data_classes: classes,
            workflows,
            resources,
            contacts: raw.contact,
            playbook: raw.playbook,
        })
    }

    /// The resources a target lies in.
    pub fn resources_of<'a>(&'a self, target: &'a str) -> impl Iterator<Item = &'a Resource> {
        self.resources.iter().filter(move |r| r.covers(target))
    }

    /// The data classes of a target (from every resource it lies in), sorted.
    pub fn classes_of(&self, target: &str) -> BTreeSet<String> {
        self.resources_of(target)
            .flat_map(|r| r.classes.iter().cloned())
            .collect()
    }

    /// Is this host or mail domain (or the domain of a mail address or URL) inside the
    /// organization? Subdomains of an internal domain are internal.
    pub fn is_internal(&self, target: &str) -> bool {
        let t = target.to_ascii_lowercase();
        let domain = match t.rsplit_once('@') {
            Some((_, d)) => d.to_string(),
            None => host_of(&t).unwrap_or(t),
        };
        self.internal_domains
            .iter()
            .any(|d| domain_match(&domain, d))
    }

    /// The workflow an agent belongs to, as declared.
    pub fn workflow_of(&self, agent: &str) -> Option<&Workflow> {
        self.workflows
            .iter()
            .find(|w| w.agents.iter().any(|a| a == agent))
    }
}

fn lower(v: Vec<String>) -> Vec<String> {
    v.into_iter()
        .map(|s| s.trim().trim_start_matches('.').to_ascii_lowercase())
        .collect()
}

/// `host` is `domain` or one of its subdomains.
fn domain_match(host: &str, domain: &str) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.'))
}

/// The host of a URL, or a bare host name (`db.internal`); `None` for paths and addresses.
fn host_of(t: &str) -> Option<String> {
    brig_model::net::url_host(t).or_else(|| {
        (!t.contains(['/', '@']) && t.contains('.')).then(|| brig_model::net::host_part(t))
    })
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// 1-based line and column of a byte offset (for errors that name where in a file).
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |i| offset - i - 1) + 1;
    (line, column)
}

/// Where a key of `[data_classes]` is written (for errors about it).
fn span_of_key(text: &str, key: &str) -> Option<Range<usize>> {
    text.find(&format!("\n{key}"))
        .map(|i| i + 1..i + 1 + key.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns() {
        assert_eq!(line_col("a\nbc\n", 0), (1, 1));
        assert_eq!(line_col("a\nbc\n", 3), (2, 2));
    }

    #[test]
    fn environments_and_controls() {
        let r = Register::parse(
            "[[workflow]]\nname = \"w\"\nenvironment = \"test\"\n[workflow.controls]\nmemory = \"off-switch\"\nretries = \"always-on\"\n",
            "t.toml",
        )
        .unwrap();
        let w = &r.workflows[0];
        assert_eq!(w.environment, Some(Environment::Test));
        let c = w.controls.as_ref().unwrap();
        assert_eq!(c.memory, Some(Control::OffSwitch));
        assert_eq!(c.browsing, None);
        assert_eq!(c.retries, Some(Control::AlwaysOn));
        let bad = Register::parse(
            "[[workflow]]\nname = \"w\"\nenvironment = \"staging\"\n",
            "t.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(bad.starts_with("t.toml:3:"), "{bad}");
    }

    #[test]
    fn domains_and_hosts() {
        assert!(domain_match("mail.contoso.com", "contoso.com"));
        assert!(domain_match("contoso.com", "contoso.com"));
        assert!(!domain_match("evilcontoso.com", "contoso.com"));
        assert_eq!(host_of("https://u@A.b:8/x").as_deref(), Some("a.b"));
        assert_eq!(host_of("db.internal").as_deref(), Some("db.internal"));
        assert_eq!(host_of("/etc/passwd"), None);
    }
}
