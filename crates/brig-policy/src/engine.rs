//! Evaluating requests: guard, policies, approval gates, most restrictive wins.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, OnceLock, RwLock};

use brig_model::{ActionKind, Effect};
use cedar::{
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId,
    PolicySet, Response, RestrictedExpression,
};
use cedar_policy as cedar;
use serde::{Deserialize, Serialize};

use crate::error::PolicyError;
use crate::load::{compile, load_dir, Compiled};
use crate::request::{ActionFacts, Request};
use crate::schema::{
    resource_type, schema, ResourceType, BUILTIN_POLICIES_SRC, GUARD_SRC, TOOL_CALL,
};

/// The outcome of [`PolicyEngine::decide`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub effect: Effect,
    /// Ids of the policies that determined the effect: the satisfied permits for Allow,
    /// the approval gates for Hold, the satisfied forbids (or erroring policies) for Deny.
    /// Empty for a default deny (nothing permits).
    pub policies: Vec<String>,
    /// Why, for people (logs, the approval prompt, the agent's error message).
    pub reason: String,
}

impl Decision {
    fn new(effect: Effect, policies: Vec<String>, reason: impl Into<String>) -> Self {
        Decision {
            effect,
            policies,
            reason: reason.into(),
        }
    }

    fn deny(reason: impl Into<String>) -> Self {
        Decision::new(Effect::Deny, Vec::new(), reason)
    }
}

impl From<Decision> for brig_model::Decision {
    fn from(d: Decision) -> Self {
        brig_model::Decision {
            effect: d.effect,
            policies: d.policies,
            reason: Some(d.reason),
        }
    }
}

/// How restrictive an effect is: Deny > Hold > Allow.
fn severity(effect: Effect) -> u8 {
    match effect {
        Effect::Allow => 0,
        Effect::Hold => 1,
        Effect::Deny => 2,
    }
}

/// Brig's policy engine: a validated policy set behind a lock, so one engine can be
/// shared (e.g. in an `Arc`) by the gateway's threads while an operator reloads it.
#[derive(Debug)]
pub struct PolicyEngine {
    current: RwLock<Arc<Compiled>>,
}

fn guard() -> &'static PolicySet {
    static GUARD: OnceLock<PolicySet> = OnceLock::new();
    GUARD.get_or_init(|| {
        let compiled = compile(&[(PathBuf::from("<brig guard>"), GUARD_SRC.to_string())])
            .expect("the embedded guard policy validates");
        compiled.full
    })
}

impl PolicyEngine {
    /// Load and validate every `*.cedar` file of `dir` (not recursive). Refused, with the
    /// file, line and reason, if any file does not parse or validate, if two policies
    /// share an id, or if there is no policy file at all.
    ///
    /// The loaded policies replace the built-in defaults entirely (only the Brig-owned
    /// guard stays in front); what they do not permit is denied.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, PolicyError> {
        Ok(PolicyEngine {
            current: RwLock::new(Arc::new(load_dir(dir.as_ref())?)),
        })
    }

    /// Replace the policies with those of `dir`, all or nothing.
    ///
    /// On error the engine keeps the last good set (decisions are unchanged) and the
    /// error is returned for the operator to fix. Decisions in flight finish on the set
    /// they started with.
    pub fn reload(&self, dir: impl AsRef<Path>) -> Result<(), PolicyError> {
        let compiled = Arc::new(load_dir(dir.as_ref())?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = compiled;
        Ok(())
    }

    /// The built-in default policies ([`BUILTIN_POLICIES_SRC`]):
    /// - reads and listings (`file.read`, `file.list`) and ordinary writes (`file.write`,
    ///   `dir.create`, `file.copy`, `file.move`) inside the served directories are allowed;
    /// - `file.delete` and `file.chmod` inside the served directories, and `perm.grant`,
    ///   `net.egress` and `message.send` anywhere, are held for approval;
    /// - anything on Brig's own files (`brig_owned`) is denied, first and unconditionally;
    /// - everything else, in particular anything outside the served directories, is denied.
    pub fn builtin() -> Self {
        let compiled = compile(&[(PathBuf::from("<builtin>"), BUILTIN_POLICIES_SRC.to_string())])
            .expect("the embedded built-in policies validate");
        PolicyEngine {
            current: RwLock::new(Arc::new(compiled)),
        }
    }

    /// The ids of the loaded policies, sorted.
    pub fn policy_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .snapshot()
            .full
            .policies()
            .map(|p| p.id().to_string())
            .collect();
        ids.sort();
        ids
    }

    fn snapshot(&self) -> Arc<Compiled> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Decide a tool call: every action is evaluated and the most restrictive decision
    /// wins (Deny > Hold > Allow); its policies are those of every action that reached
    /// that effect. A call without actions is evaluated as one `tool.call`. Never fails:
    /// any error is a Deny whose reason says what went wrong.
    pub fn decide(&self, request: &Request) -> Decision {
        let compiled = self.snapshot();
        let decisions: Vec<Decision> = if request.actions.is_empty() {
            vec![decide_one(&compiled, request, None)]
        } else {
            request
                .actions
                .iter()
                .map(|facts| decide_one(&compiled, request, Some(facts)))
                .collect()
        };
        let worst = decisions
            .iter()
            .map(|d| severity(d.effect))
            .max()
            .unwrap_or(severity(Effect::Deny));
        let mut policies = Vec::new();
        let mut reasons = Vec::new();
        let mut effect = Effect::Deny;
        for d in decisions
            .into_iter()
            .filter(|d| severity(d.effect) == worst)
        {
            effect = d.effect;
            for p in d.policies {
                if !policies.contains(&p) {
                    policies.push(p);
                }
            }
            reasons.push(d.reason);
        }
        Decision::new(effect, policies, reasons.join("; "))
    }
}

/// What one action is called in reasons: `file.write /repo/x`.
fn describe(facts: Option<&ActionFacts>, request: &Request) -> String {
    match facts {
        Some(f) => format!("{} {}", f.action.action, f.action.target),
        None => format!("{TOOL_CALL} {}", request.tool),
    }
}

fn decide_one(compiled: &Compiled, request: &Request, facts: Option<&ActionFacts>) -> Decision {
    let what = describe(facts, request);
    let (cedar_request, entities) = match build(request, facts) {
        Ok(built) => built,
        Err(e) => return Decision::deny(format!("{what}: denied, cannot evaluate: {e}")),
    };
    let authorizer = Authorizer::new();

    // 1. The guard, before anything else: Brig's own files are never the agent's.
    let guarded = authorizer.is_authorized(&cedar_request, guard(), &entities);
    if let Some(d) = errors(&guarded, &what) {
        return d;
    }
    let forbids = reason_ids(&guarded);
    if !forbids.is_empty() {
        return Decision::new(
            Effect::Deny,
            forbids,
            format!("{what}: denied, the target is one of Brig's own files"),
        );
    }

    // 2. The policies.
    let response = authorizer.is_authorized(&cedar_request, &compiled.full, &entities);
    if let Some(d) = errors(&response, &what) {
        return d;
    }
    let determining = reason_ids(&response);
    if response.decision() == cedar::Decision::Allow {
        let by = determining.join(", ");
        return Decision::new(
            Effect::Allow,
            determining,
            format!("{what}: allowed by {by}"),
        );
    }
    if determining.is_empty() {
        return Decision::deny(format!("{what}: denied, no policy permits it"));
    }
    let (gates, hard): (Vec<PolicyId>, Vec<PolicyId>) = response
        .diagnostics()
        .reason()
        .cloned()
        .partition(|id| compiled.approval.contains(id));
    if !hard.is_empty() {
        let hard: Vec<String> = hard.iter().map(ToString::to_string).collect();
        let by = hard.join(", ");
        return Decision::new(Effect::Deny, hard, format!("{what}: denied by {by}"));
    }

    // 3. Only approval gates deny: would it be allowed once approved?
    let approved = authorizer.is_authorized(&cedar_request, &compiled.without_approval, &entities);
    if let Some(d) = errors(&approved, &what) {
        return d;
    }
    let gates: Vec<String> = gates.iter().map(ToString::to_string).collect();
    let by = gates.join(", ");
    if approved.decision() == cedar::Decision::Allow {
        Decision::new(
            Effect::Hold,
            gates,
            format!("{what}: needs approval ({by})"),
        )
    } else {
        Decision::deny(format!(
            "{what}: denied, no policy permits it even with approval ({by})"
        ))
    }
}

/// Fail closed: a policy that errored may have been a forbid.
fn errors(response: &Response, what: &str) -> Option<Decision> {
    let errors: Vec<_> = response.diagnostics().errors().collect();
    if errors.is_empty() {
        return None;
    }
    let mut ids: Vec<String> = errors
        .iter()
        .map(|e| match e {
            cedar::AuthorizationError::PolicyEvaluationError(e) => e.policy_id().to_string(),
        })
        .collect();
    ids.dedup();
    let reasons: Vec<String> = errors.iter().map(ToString::to_string).collect();
    Some(Decision::new(
        Effect::Deny,
        ids,
        format!(
            "{what}: denied, policy evaluation failed: {}",
            reasons.join("; ")
        ),
    ))
}

fn reason_ids(response: &Response) -> Vec<String> {
    let mut ids: Vec<String> = response
        .diagnostics()
        .reason()
        .map(ToString::to_string)
        .collect();
    ids.sort();
    ids
}

fn uid(type_name: &str, id: &str) -> Result<EntityUid, String> {
    let type_name = EntityTypeName::from_str(type_name).map_err(|e| e.to_string())?;
    Ok(EntityUid::from_type_name_and_id(
        type_name,
        EntityId::new(id),
    ))
}

fn string(s: impl Into<String>) -> RestrictedExpression {
    RestrictedExpression::new_string(s.into())
}

fn string_set(items: &[String]) -> RestrictedExpression {
    RestrictedExpression::new_set(items.iter().map(|s| string(s.clone())))
}

/// The host of a URL or host name (see [`brig_model::net::host_part`]).
pub(crate) fn host_of(target: &str) -> String {
    brig_model::net::host_part(target)
}

/// A recipient address: no `mailto:`, lowercase.
pub(crate) fn address_of(target: &str) -> String {
    let t = target.trim();
    let t = t.strip_prefix("mailto:").unwrap_or(t);
    t.to_lowercase()
}

/// The Cedar request and entities for one action (or the bare tool call).
fn build(
    request: &Request,
    facts: Option<&ActionFacts>,
) -> Result<(cedar::Request, Entities), String> {
    let workflow = uid("Workflow", &request.workflow)?;
    let agent = uid("Agent", &request.agent)?;
    let agent_entity = Entity::new(
        agent.clone(),
        HashMap::from([
            ("workflow".to_string(), string(request.workflow.clone())),
            ("tags".to_string(), string_set(&request.tags)),
        ]),
        HashSet::from([workflow.clone()]),
    )
    .map_err(|e| e.to_string())?;
    let workflow_entity = Entity::with_uid(workflow);

    let (action_name, resource_entity) = match facts {
        None => (
            TOOL_CALL,
            Entity::new(
                uid("Tool", &request.tool)?,
                HashMap::from([("name".to_string(), string(request.tool.clone()))]),
                HashSet::new(),
            ),
        ),
        Some(f) => {
            let kind: ActionKind = f.action.action;
            let target = &f.action.target;
            let rtype = resource_type(kind);
            let (id, attrs) = match rtype {
                ResourceType::File => (
                    target.clone(),
                    HashMap::from([
                        ("path".to_string(), string(target.clone())),
                        ("data_classes".to_string(), string_set(&f.data_classes)),
                    ]),
                ),
                ResourceType::Host => {
                    let host = host_of(target);
                    (
                        host.clone(),
                        HashMap::from([("name".to_string(), string(host))]),
                    )
                }
                ResourceType::Recipient => {
                    let address = address_of(target);
                    (
                        address.clone(),
                        HashMap::from([("address".to_string(), string(address))]),
                    )
                }
                ResourceType::Process
                | ResourceType::Setting
                | ResourceType::Dataset
                | ResourceType::Tool => (
                    target.clone(),
                    HashMap::from([("name".to_string(), string(target.clone()))]),
                ),
            };
            (
                kind.as_str(),
                Entity::new(uid(rtype.as_str(), &id)?, attrs, HashSet::new()),
            )
        }
    };
    let resource_entity = resource_entity.map_err(|e| e.to_string())?;
    let resource = resource_entity.uid();

    let mut context = vec![
        ("tool".to_string(), string(request.tool.clone())),
        (
            "in_served_dir".to_string(),
            RestrictedExpression::new_bool(facts.is_some_and(|f| f.in_served_dir)),
        ),
        (
            "brig_owned".to_string(),
            RestrictedExpression::new_bool(facts.is_some_and(|f| f.brig_owned)),
        ),
    ];
    if let Some(task) = &request.declared_task {
        context.push(("declared_task".to_string(), string(task.clone())));
    }
    if let Some(dest) = facts.and_then(|f| f.action.dest.as_ref()) {
        context.push(("dest".to_string(), string(dest.clone())));
    }
    let action = uid("Action", action_name)?;
    let context = Context::from_pairs(context).map_err(|e| e.to_string())?;
    let cedar_request = cedar::Request::new(agent, action, resource, context, Some(schema()))
        .map_err(|e| e.to_string())?;
    let entities = Entities::from_entities(
        [agent_entity, workflow_entity, resource_entity],
        Some(schema()),
    )
    .map_err(|e| e.to_string())?;
    Ok((cedar_request, entities))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_addresses_normalize() {
        assert_eq!(
            host_of("https://user:pw@Registry.NPMJS.org:443/pkg?x=1"),
            "registry.npmjs.org"
        );
        assert_eq!(host_of("registry.npmjs.org"), "registry.npmjs.org");
        assert_eq!(host_of("http://[::1]:8080/x"), "::1");
        assert_eq!(host_of("example.com."), "example.com");
        assert_eq!(
            address_of("mailto:Ann@Customer.Example"),
            "ann@customer.example"
        );
    }

    #[test]
    fn embedded_policies_compile() {
        let _ = guard();
        let engine = PolicyEngine::builtin();
        assert!(engine
            .policy_ids()
            .contains(&"builtin.needs-approval".to_string()));
    }
}
