//! The rollback plan of a scope, from what the ledger holds: the pre-images and post-images
//! the gateway recorded with each call (and with each observed change), read back and
//! checked against their digests, then handed to [`brig_rollback::plan`]. Shared by
//! `brig rollback` and `brig serve`'s `/v1/rollback/*`.

use std::collections::HashMap;

use brig_model::{Event, EventKind};
use brig_rollback::git;
use brig_rollback::images::{Images, POST, PRE};
use brig_rollback::objects::Objects;
use brig_rollback::plan::{self, Item, Touch};
use brig_store::{DataDir, Store};
use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::export::{events_in, Scope};
use crate::EvidenceError;

/// Which paths of the scope to plan for, and whether git history is reverted instead.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Only paths matching one of these globs (empty: every path).
    pub include: Vec<String>,
    /// Never paths matching one of these globs.
    pub exclude: Vec<String>,
    /// Leave paths inside a git repository's internals to `git revert` of the branches.
    pub git_revert: bool,
}

/// The plan for a scope, and the object store its images are in.
pub struct Planned {
    pub objects: Objects,
    pub items: Vec<Item>,
    /// The branches the agent committed to.
    pub branches: Vec<git::Branch>,
}

/// Plans the rollback of `scope`.
pub fn plan_scope(dir: &DataDir, scope: &Scope, sel: &Selection) -> Result<Planned, EvidenceError> {
    let (events, _) = events_in(dir, scope)?;
    let mut store = dir.store()?;
    let touches = touches(&mut store, &events)?;
    let objects = Objects::open(&dir.root().join("objects")).map_err(rollback)?;
    let filter = Filter::new(&sel.include, &sel.exclude)?;
    let all = plan::plan(&touches, &objects).map_err(rollback)?;
    let branches = git::branches(&all, &objects);
    let items = all
        .into_iter()
        .filter(|i| filter.keeps(&i.path))
        .filter(|i| !(sel.git_revert && git::internal_to(&i.path).is_some()))
        .collect();
    Ok(Planned {
        objects,
        items,
        branches,
    })
}

fn rollback(e: impl std::fmt::Display) -> EvidenceError {
    EvidenceError::Rollback(e.to_string())
}

/// The calls in `events` that recorded pre-images, with their post-images.
pub fn touches(store: &mut Store, events: &[(u64, Event)]) -> Result<Vec<Touch>, EvidenceError> {
    // Each call's answer, by (session, call): one pass, not a search per call.
    let results: HashMap<_, &(u64, Event)> = events
        .iter()
        .filter(|(_, r)| r.kind == EventKind::ToolResult)
        .map(|ev| ((ev.1.session.as_deref(), ev.1.call.as_deref()), ev))
        .collect();
    let mut out = Vec::new();
    for (idx, e) in events {
        // Changes seen (a watcher's, or a workspace snapshot's after a command): both
        // images on the one event.
        if e.kind == EventKind::FileChange && e.payload.contains_key(PRE) {
            out.push(Touch {
                index: *idx,
                tool: e.tool.clone().unwrap_or_else(|| "brig watch".into()),
                pre: image_part(store, *idx, e, PRE)?.unwrap_or_default(),
                post: image_part(store, *idx, e, POST)?,
            });
            continue;
        }
        if e.kind != EventKind::ToolCall || !e.payload.contains_key(PRE) {
            continue;
        }
        let pre: Images = image_part(store, *idx, e, PRE)?.unwrap_or_default();
        let post = match results.get(&(e.session.as_deref(), e.call.as_deref())) {
            Some((ri, r)) => image_part(store, *ri, r, POST)?,
            None => None,
        };
        out.push(Touch {
            index: *idx,
            tool: e.tool.clone().unwrap_or_default(),
            pre,
            post,
        });
    }
    Ok(out)
}

/// Payload part `part` of event `idx` as images: `None` when the event has no such part; an
/// error when the stored blob is missing or does not match the digest its event records
/// (a plan from altered images could restore what the attacker wants).
fn image_part(
    store: &mut Store,
    idx: u64,
    e: &Event,
    part: &str,
) -> Result<Option<Images>, EvidenceError> {
    use brig_ledger::store::LedgerStore;
    let Some(r) = e.payload.get(part) else {
        return Ok(None);
    };
    let bad = |what: &str| {
        EvidenceError::Rollback(format!(
            "the {part} of event {idx} are {what}: cannot plan from them"
        ))
    };
    let blob = store.blob(idx, part)?.ok_or_else(|| bad("erased"))?;
    if !blob.is_intact() || blob.digest != r.salted_sha256 {
        return Err(bad("altered"));
    }
    serde_json::from_slice(&blob.data)
        .map(Some)
        .map_err(|_| bad("unreadable"))
}

struct Filter {
    include: Option<GlobSet>,
    exclude: GlobSet,
}

impl Filter {
    fn new(include: &[String], exclude: &[String]) -> Result<Self, EvidenceError> {
        let set = |globs: &[String]| -> Result<GlobSet, EvidenceError> {
            let mut b = GlobSetBuilder::new();
            for g in globs {
                b.add(Glob::new(g).map_err(|e| {
                    EvidenceError::Rollback(format!("`{g}` is not a valid glob: {e}"))
                })?);
            }
            b.build().map_err(rollback)
        };
        Ok(Filter {
            include: (!include.is_empty()).then(|| set(include)).transpose()?,
            exclude: set(exclude)?,
        })
    }

    fn keeps(&self, path: &str) -> bool {
        self.include.as_ref().is_none_or(|s| s.is_match(path)) && !self.exclude.is_match(path)
    }
}

pub use brig_rollback::plan::{Check, Outcome};

/// Re-hashes every path of the plan against its pre-agent state.
pub fn verify(p: &Planned) -> Result<Vec<Check>, EvidenceError> {
    plan::verify(&p.items, &p.objects).map_err(rollback)
}

/// Restores the plan's pre-images (see [`brig_rollback::plan::apply`]); `each` sees every
/// step as it is taken, to record it.
pub fn apply(
    p: &Planned,
    canary: Option<usize>,
    dry_run: bool,
    each: impl FnMut(&Outcome),
) -> Result<Vec<Outcome>, EvidenceError> {
    plan::apply(&p.items, &p.objects, canary, dry_run, each).map_err(rollback)
}

/// The ledger record of one rollback step (`operator.action`, action `rollback`).
pub fn step_event(who: &str, o: &plan::Outcome) -> brig_model::NewEvent {
    let mut e = brig_model::NewEvent::new("operator", "*", EventKind::OperatorAction);
    e.attrs.insert("action".into(), "rollback".into());
    e.attrs.insert("actor".into(), who.into());
    e.attrs.insert("path".into(), o.path.clone().into());
    e.attrs.insert("result".into(), o.result.clone().into());
    if let Some(d) = &o.detail {
        e.attrs.insert("detail".into(), d.clone().into());
    }
    e
}

/// After a rollback verify of an incident: when every path checked matches its pre-agent
/// state, records the incident's `recovered` step (the lifecycle change `brig incidents step
/// ID recovered` makes), once — a later verify leaves the first time standing, which is
/// when service was restored. `append` writes the step's event durably and returns its
/// ledger index; the incident is saved only after. Returns that index, or `None` when
/// nothing was recorded (not an incident's scope, nothing checked, a mismatch, or already
/// recovered). Shared by `brig rollback verify` and `/v1/rollback/verify`.
pub fn record_recovered(
    store: &mut Store,
    scope: &Scope,
    checks: &[Check],
    who: &str,
    append: impl FnOnce(brig_model::NewEvent) -> Result<u64, String>,
) -> Result<Option<u64>, EvidenceError> {
    use brig_incident::desk;
    let Scope::Incident(id) = scope else {
        return Ok(None);
    };
    if checks.is_empty() || !checks.iter().all(|c| c.matches) {
        return Ok(None);
    }
    let (incident, row) = desk::load(store, id)?;
    if incident.times.recovered.is_some() {
        return Ok(None);
    }
    let reason = format!(
        "rollback verified: {} path(s) match their pre-agent state",
        checks.len()
    );
    let (updated, e) = desk::change(
        &incident,
        who,
        &desk::Change::Step(brig_incident::State::Recovered),
        Some(&reason),
    )?;
    let index = append(e).map_err(|e| {
        EvidenceError::Rollback(format!("the recovered step could not be recorded: {e}"))
    })?;
    desk::save(store, &updated, &row)?;
    Ok(Some(index))
}
