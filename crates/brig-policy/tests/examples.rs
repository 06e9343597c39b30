//! The example policy directories under `policies/` load and decide as their comments say.

mod common;

use brig_model::{ActionKind, Effect};
use brig_policy::{PolicyEngine, Request};
use common::{examples, facts};

fn decide(
    engine: &PolicyEngine,
    workflow: &str,
    f: brig_policy::ActionFacts,
) -> (Effect, Vec<String>) {
    let d = engine.decide(&Request::new("agent-1", workflow, "tool").with_action(f));
    (d.effect, d.policies)
}

#[test]
fn coding_agent() {
    let engine = PolicyEngine::load(examples("coding-agent")).unwrap();
    let repo = |kind, path: &str| facts(kind, path).in_served_dir(true);
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    assert_eq!(
        decide(
            &engine,
            "dev",
            repo(ActionKind::FileRead, "/repo/src/lib.rs")
        ),
        (Effect::Allow, ids(&["coding.repo-read"]))
    );
    assert_eq!(
        decide(
            &engine,
            "dev",
            repo(ActionKind::FileWrite, "/repo/src/lib.rs")
        ),
        (Effect::Allow, ids(&["coding.repo-write"]))
    );
    assert_eq!(
        decide(
            &engine,
            "dev",
            repo(ActionKind::FileWrite, "/repo/.github/workflows/ci.yml")
        ),
        (Effect::Hold, ids(&["coding.ci-config-needs-approval"]))
    );
    assert_eq!(
        decide(&engine, "dev", repo(ActionKind::FileDelete, "/repo/old.rs")),
        (Effect::Hold, ids(&["coding.delete-needs-approval"]))
    );
    assert_eq!(
        decide(&engine, "dev", repo(ActionKind::FileRead, "/repo/.env")),
        (Effect::Deny, ids(&["coding.no-secrets"]))
    );
    // Deleting CI config with a secret in it: both gates and a plain forbid → Deny.
    assert_eq!(
        decide(
            &engine,
            "dev",
            repo(ActionKind::FileDelete, "/repo/.github/workflows/deploy.yml")
                .with_data_classes(["secret"])
        ),
        (Effect::Deny, ids(&["coding.no-secrets"]))
    );
    assert_eq!(
        decide(&engine, "dev", facts(ActionKind::FileWrite, "/etc/hosts")).0,
        Effect::Deny
    );
    assert_eq!(
        decide(
            &engine,
            "dev",
            facts(ActionKind::NetEgress, "https://registry.npmjs.org/left-pad")
        ),
        (Effect::Allow, ids(&["coding.egress-registries"]))
    );
    assert_eq!(
        decide(
            &engine,
            "dev",
            facts(ActionKind::NetEgress, "https://paste.example/x")
        )
        .0,
        Effect::Deny
    );
    assert_eq!(
        decide(
            &engine,
            "dev",
            facts(ActionKind::MessageSend, "boss@corp.example")
        ),
        (Effect::Deny, ids(&["coding.no-messages"]))
    );
    assert_eq!(
        decide(&engine, "dev", facts(ActionKind::ProcExec, "cargo test")).0,
        Effect::Allow
    );
    assert_eq!(
        decide(&engine, "dev", facts(ActionKind::ProcExec, "curl evil.sh")).0,
        Effect::Deny
    );
}

#[test]
fn support_agent() {
    let engine = PolicyEngine::load(examples("support-agent")).unwrap();
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    assert_eq!(
        decide(
            &engine,
            "support",
            facts(ActionKind::MessageSend, "Ann@Customer.Example")
        ),
        (Effect::Allow, ids(&["support.message-customers"]))
    );
    assert_eq!(
        decide(
            &engine,
            "support",
            facts(ActionKind::MessageSend, "ann@customer.example.evil.test")
        ),
        (Effect::Deny, ids(&["support.no-outside-messages"]))
    );
    // Another workflow gets nothing from the support permits.
    assert_eq!(
        decide(
            &engine,
            "sales",
            facts(ActionKind::MessageSend, "ann@customer.example")
        )
        .0,
        Effect::Deny
    );
    assert_eq!(
        decide(
            &engine,
            "support",
            facts(ActionKind::FileWrite, "/kb/faq.md").in_served_dir(true)
        ),
        (Effect::Deny, ids(&["support.no-file-writes"]))
    );
    assert_eq!(
        decide(
            &engine,
            "support",
            facts(ActionKind::FileRead, "/kb/faq.md").in_served_dir(true)
        ),
        (Effect::Allow, ids(&["support.kb-read"]))
    );
    assert_eq!(
        decide(&engine, "support", facts(ActionKind::DataRead, "tickets")).0,
        Effect::Allow
    );
    assert_eq!(
        decide(&engine, "support", facts(ActionKind::DataExport, "tickets")),
        (Effect::Hold, ids(&["support.export-needs-approval"]))
    );
    assert_eq!(
        decide(
            &engine,
            "support",
            facts(ActionKind::DataExport, "customers")
        )
        .0,
        Effect::Deny
    );
    assert_eq!(
        decide(
            &engine,
            "support",
            facts(ActionKind::NetEgress, "example.com")
        )
        .0,
        Effect::Deny
    );
}
