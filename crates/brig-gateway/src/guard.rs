//! The decision on one tool call: containment first, then policy. Fails closed.

use brig_model::{Action, Decision, Effect};
use brig_store::Store;
use serde_json::Value;

/// What Brig knows about a call when it decides.
#[derive(Debug)]
pub struct Call<'a> {
    pub agent: &'a str,
    pub workflow: Option<&'a str>,
    pub task: Option<&'a str>,
    pub tool: &'a str,
    pub arguments: &'a Value,
    pub actions: &'a [Action],
}

/// A policy engine, as the gateway sees it.
pub trait Policy: Send {
    fn decide(&mut self, call: &Call<'_>) -> Decision;
}

/// Normalizes a tool call into actions.
pub type Normalizer = Box<dyn Fn(&str, &Value) -> Vec<Action> + Send>;

/// Containment state and policy, consulted for every call.
pub struct Guard {
    store: Store,
    policy: Box<dyn Policy>,
    normalize: Normalizer,
}

fn deny(policy: &str, reason: String) -> Decision {
    Decision {
        effect: Effect::Deny,
        policies: vec![policy.to_string()],
        reason: Some(reason),
    }
}

impl Guard {
    pub fn new(store: Store, policy: Box<dyn Policy>, normalize: Normalizer) -> Self {
        Guard {
            store,
            policy,
            normalize,
        }
    }

    pub fn normalize(&self, tool: &str, arguments: &Value) -> Vec<Action> {
        (self.normalize)(tool, arguments)
    }

    /// Decides on a call. Containment wins over any policy; an unreadable containment state
    /// denies.
    pub fn decide(&mut self, call: &Call<'_>) -> Decision {
        match self.store.containment_of(call.agent, call.workflow) {
            Err(e) => {
                return deny(
                    "brig.fail-closed",
                    format!("containment state cannot be read ({e}); denying"),
                )
            }
            Ok(Some(c)) => {
                return deny(
                    "brig.containment",
                    format!("{} is contained by {}: {}", c.scope, c.actor, c.reason),
                )
            }
            Ok(None) => {}
        }
        if let Some(d) = self.quarantined(call.actions) {
            return d;
        }
        self.policy.decide(call)
    }

    /// A denial when the call touches a quarantined path (or the quarantine list cannot
    /// be read).
    fn quarantined(&mut self, actions: &[Action]) -> Option<Decision> {
        let paths: Vec<&str> = actions
            .iter()
            .flat_map(|a| std::iter::once(a.target.as_str()).chain(a.dest.as_deref()))
            .filter(|t| t.starts_with('/'))
            .collect();
        if paths.is_empty() {
            return None;
        }
        let q = match self.store.quarantines() {
            Ok(q) => q,
            Err(e) => {
                return Some(deny(
                    "brig.fail-closed",
                    format!("quarantined paths cannot be read ({e}); denying"),
                ))
            }
        };
        q.iter().find_map(|c| {
            let brig_store::Scope::Path(glob) = &c.scope else {
                return None;
            };
            let m = globset::Glob::new(glob).map(|g| g.compile_matcher());
            let hit = match &m {
                Ok(m) => paths.iter().find(|p| m.is_match(p)).copied(),
                // A glob that no longer compiles quarantines everything it could mean.
                Err(_) => paths.first().copied(),
            }?;
            Some(deny(
                "brig.quarantine",
                format!("{hit} is quarantined ({glob}) by {}: {}", c.actor, c.reason),
            ))
        })
    }
}

/// The normalizer for an upstream serving `roots`: relative paths resolve against the first
/// root, as the reference filesystem server resolves them.
pub fn normalizer(roots: Vec<std::path::PathBuf>) -> Normalizer {
    Box::new(move |tool, arguments| {
        let ctx = brig_detect::normalize::ToolContext {
            cwd: None,
            roots: &roots,
        };
        brig_detect::normalize::normalize(tool, arguments, &ctx)
    })
}

/// A text the agent reads when its call is not run.
pub fn refusal_text(d: &Decision) -> String {
    let why = d.reason.as_deref().unwrap_or("no reason given");
    let by = if d.policies.is_empty() {
        "Brig".to_string()
    } else {
        format!("policy {}", d.policies.join(", "))
    };
    match d.effect {
        Effect::Hold => {
            format!("This tool call was held for human approval ({by}) and not run: {why}")
        }
        _ => format!("This tool call was blocked by {by} and not run: {why}"),
    }
}
