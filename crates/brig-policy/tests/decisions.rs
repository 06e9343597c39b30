//! Decisions: the built-in defaults, approval gates, most restrictive wins, ids reported.

mod common;

use brig_model::{Action, ActionKind, Effect};
use brig_policy::{ActionFacts, PolicyEngine, Request, GUARD_POLICY_ID};
use common::{facts, one, write};

#[test]
fn builtin_defaults() {
    let engine = PolicyEngine::builtin();

    let d = engine.decide(&one(ActionKind::FileRead, "/srv/repo/a.rs", true));
    assert_eq!(d.effect, Effect::Allow, "{d:?}");
    assert_eq!(d.policies, ["builtin.served-read"]);

    let d = engine.decide(&one(ActionKind::FileWrite, "/srv/repo/a.rs", true));
    assert_eq!(d.effect, Effect::Allow, "{d:?}");

    let d = engine.decide(&one(ActionKind::FileDelete, "/srv/repo/a.rs", true));
    assert_eq!(d.effect, Effect::Hold, "{d:?}");
    assert_eq!(d.policies, ["builtin.needs-approval"]);

    let d = engine.decide(&one(ActionKind::FileChmod, "/srv/repo/a.sh", true));
    assert_eq!(d.effect, Effect::Hold, "{d:?}");

    let d = engine.decide(&one(
        ActionKind::NetEgress,
        "https://example.com/upload",
        false,
    ));
    assert_eq!(d.effect, Effect::Hold, "{d:?}");
    let d = engine.decide(&one(ActionKind::MessageSend, "ann@example.com", false));
    assert_eq!(d.effect, Effect::Hold, "{d:?}");
    let d = engine.decide(&one(ActionKind::PermGrant, "sudoers", false));
    assert_eq!(d.effect, Effect::Hold, "{d:?}");

    // Outside the served directories: denied, even what is approvable inside.
    for kind in [
        ActionKind::FileRead,
        ActionKind::FileWrite,
        ActionKind::FileDelete,
    ] {
        let d = engine.decide(&one(kind, "/etc/passwd", false));
        assert_eq!(d.effect, Effect::Deny, "{kind}: {d:?}");
        assert!(d.policies.is_empty(), "{d:?}");
    }
    // Anything else is denied by default, inside or not.
    let d = engine.decide(&one(ActionKind::ProcKill, "1", true));
    assert_eq!(d.effect, Effect::Deny, "{d:?}");
    // A call with no actions is a tool.call: not permitted by the defaults.
    let d = engine.decide(&Request::new("a1", "w", "get_time"));
    assert_eq!(d.effect, Effect::Deny, "{d:?}");
    assert!(d.reason.contains("tool.call get_time"), "{}", d.reason);
}

#[test]
fn brig_owned_is_denied_even_if_a_policy_permits_it() {
    let owned = |kind| {
        Request::new("a1", "w", "t").with_action(
            ActionFacts::new(Action::new(kind, "/var/lib/brig/ledger.db"))
                .in_served_dir(true)
                .brig_owned(true),
        )
    };
    let builtin = PolicyEngine::builtin();
    for kind in [
        ActionKind::FileWrite,
        ActionKind::FileRead,
        ActionKind::FileDelete,
    ] {
        let d = builtin.decide(&owned(kind));
        assert_eq!(d.effect, Effect::Deny, "{d:?}");
        assert_eq!(d.policies, [GUARD_POLICY_ID]);
    }

    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "everything.cedar",
        "@id(\"all\") permit (principal, action, resource);",
    );
    let engine = PolicyEngine::load(dir.path()).unwrap();
    assert_eq!(
        engine
            .decide(&one(ActionKind::FileWrite, "/x", false))
            .effect,
        Effect::Allow
    );
    let d = engine.decide(&owned(ActionKind::FileWrite));
    assert_eq!(d.effect, Effect::Deny, "{d:?}");
    assert_eq!(d.policies, [GUARD_POLICY_ID]);
}

const GATED: &str = r#"
@id("write-anything")
permit (principal, action == Action::"file.write", resource);

@id("ci-needs-approval")
@approval("required")
forbid (principal, action == Action::"file.write", resource)
when { resource.path like "*/.github/*" };

@id("no-secrets")
forbid (principal, action == Action::"file.write", resource)
when { resource.data_classes.contains("secret") };

@id("delete-needs-approval")
@approval("required")
forbid (principal, action == Action::"file.delete", resource);
"#;

#[test]
fn approval_gate_holds_unless_a_plain_forbid_applies() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "gated.cedar", GATED);
    let engine = PolicyEngine::load(dir.path()).unwrap();
    let req = |target: &str, classes: &[&str]| {
        Request::new("a1", "w", "t").with_action(
            facts(ActionKind::FileWrite, target).with_data_classes(classes.iter().copied()),
        )
    };

    let d = engine.decide(&req("/r/src/main.rs", &[]));
    assert_eq!(
        (d.effect, d.policies),
        (Effect::Allow, vec!["write-anything".to_string()])
    );

    let d = engine.decide(&req("/r/.github/ci.yml", &[]));
    assert_eq!(d.effect, Effect::Hold, "{d:?}");
    assert_eq!(d.policies, ["ci-needs-approval"]);
    assert!(d.reason.contains("needs approval"), "{}", d.reason);

    // The gate and a plain forbid: Deny, determined by the plain forbid.
    let d = engine.decide(&req("/r/.github/token", &["secret"]));
    assert_eq!(d.effect, Effect::Deny, "{d:?}");
    assert_eq!(d.policies, ["no-secrets"]);

    let d = engine.decide(&req("/r/.env", &["secret"]));
    assert_eq!(d.effect, Effect::Deny, "{d:?}");
    assert_eq!(d.policies, ["no-secrets"]);

    // A gate with nothing permitting behind it: approval would not help → Deny.
    let d = engine.decide(&one(ActionKind::FileDelete, "/r/a", true));
    assert_eq!(d.effect, Effect::Deny, "{d:?}");
    assert!(d.reason.contains("even with approval"), "{}", d.reason);
}

#[test]
fn most_restrictive_action_wins() {
    let engine = PolicyEngine::builtin();
    let read = facts(ActionKind::FileRead, "/srv/a").in_served_dir(true);
    let delete = facts(ActionKind::FileDelete, "/srv/b").in_served_dir(true);
    let outside = facts(ActionKind::FileWrite, "/etc/cron.d/x");
    let call = |actions: Vec<ActionFacts>| {
        let mut r = Request::new("a1", "w", "bash");
        r.actions = actions;
        engine.decide(&r)
    };

    let d = call(vec![read.clone()]);
    assert_eq!(d.effect, Effect::Allow);

    let d = call(vec![read.clone(), delete.clone()]);
    assert_eq!(d.effect, Effect::Hold, "{d:?}");
    assert_eq!(d.policies, ["builtin.needs-approval"]);

    // Order does not matter; one denied action denies the call.
    for actions in [
        vec![read.clone(), delete.clone(), outside.clone()],
        vec![outside.clone(), delete.clone(), read.clone()],
        vec![delete.clone(), outside.clone()],
    ] {
        let d = call(actions);
        assert_eq!(d.effect, Effect::Deny, "{d:?}");
        assert!(d.reason.contains("/etc/cron.d/x"), "{}", d.reason);
    }

    // Two allowed actions: both permits are reported.
    let write = facts(ActionKind::FileWrite, "/srv/c").in_served_dir(true);
    let d = call(vec![read, write]);
    assert_eq!(d.effect, Effect::Allow);
    assert_eq!(d.policies, ["builtin.served-read", "builtin.served-write"]);
}

#[test]
fn context_and_principal_reach_policies() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.cedar",
        r#"
@id("triage-reads")
permit (principal in Workflow::"triage", action == Action::"file.read", resource)
when { context has declared_task && context.declared_task like "*incident*" };

@id("tagged-egress")
permit (principal, action == Action::"net.egress", resource == Host::"api.example.com")
when { principal has tags && principal.tags.contains("net") && context.tool == "fetch" };

@id("copy-to-tmp")
permit (principal, action == Action::"file.copy", resource)
when { context has dest && context.dest like "/tmp/*" };
"#,
    );
    let engine = PolicyEngine::load(dir.path()).unwrap();
    let read = |wf: &str, task: Option<&str>| {
        let mut r =
            Request::new("a1", wf, "read_file").with_action(facts(ActionKind::FileRead, "/x"));
        r.declared_task = task.map(str::to_string);
        engine.decide(&r).effect
    };
    assert_eq!(read("triage", Some("summarize incident 7")), Effect::Allow);
    assert_eq!(read("triage", Some("refactor")), Effect::Deny);
    assert_eq!(read("triage", None), Effect::Deny);
    assert_eq!(read("other", Some("incident")), Effect::Deny);

    let egress = |tags: &[&str], tool: &str, url: &str| {
        engine
            .decide(
                &Request::new("a1", "w", tool)
                    .with_tags(tags.iter().copied())
                    .with_action(facts(ActionKind::NetEgress, url)),
            )
            .effect
    };
    assert_eq!(
        egress(&["net"], "fetch", "https://API.example.com:443/v1"),
        Effect::Allow
    );
    assert_eq!(
        egress(&[], "fetch", "https://api.example.com/v1"),
        Effect::Deny
    );
    assert_eq!(
        egress(&["net"], "curl", "https://api.example.com/v1"),
        Effect::Deny
    );
    assert_eq!(
        egress(&["net"], "fetch", "https://api.example.com.evil.test/"),
        Effect::Deny
    );

    let copy = |dest: &str| {
        engine
            .decide(&Request::new("a1", "w", "t").with_action(ActionFacts::new(
                Action::new(ActionKind::FileCopy, "/x").with_dest(dest),
            )))
            .effect
    };
    assert_eq!(copy("/tmp/y"), Effect::Allow);
    assert_eq!(copy("/dev/shm/y"), Effect::Deny);
}

#[test]
fn evaluation_errors_fail_closed() {
    // An overflow is an evaluation error: Cedar would skip the erroring forbid and let
    // the permit allow; Brig denies and names the erroring policy.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.cedar",
        r#"
@id("allow")
permit (principal, action, resource);

@id("overflowing")
forbid (principal, action, resource)
when { 9223372036854775807 + (if context.in_served_dir then 1 else 0) == 0 };
"#,
    );
    let engine = PolicyEngine::load(dir.path()).unwrap();
    assert_eq!(
        engine
            .decide(&one(ActionKind::FileRead, "/x", false))
            .effect,
        Effect::Allow
    );
    let d = engine.decide(&one(ActionKind::FileRead, "/x", true));
    assert_eq!(d.effect, Effect::Deny, "{d:?}");
    assert_eq!(d.policies, ["overflowing"]);
    assert!(d.reason.contains("evaluation failed"), "{}", d.reason);
}

#[test]
fn decision_converts_to_the_ledger_model() {
    let d = PolicyEngine::builtin().decide(&one(ActionKind::NetEgress, "example.com", false));
    let m: brig_model::Decision = d.clone().into();
    assert_eq!(m.effect, Effect::Hold);
    assert_eq!(m.policies, d.policies);
    assert_eq!(m.reason.as_deref(), Some(d.reason.as_str()));
}
