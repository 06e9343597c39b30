//! Loading policy directories: errors name file and line; reload is all or nothing.

mod common;

use brig_model::{ActionKind, Effect};
use brig_policy::{PolicyEngine, PolicyError};
use common::{one, write};

const READ_REPO: &str = r#"// Reads in the served directories.
@id("read")
permit (principal, action == Action::"file.read", resource)
when { context.in_served_dir };
"#;

#[test]
fn syntax_error_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a-good.cedar", READ_REPO);
    write(
        dir.path(),
        "b-broken.cedar",
        "// line 1\n@id(\"ok\")\npermit (principal, action, resource);\n\npermit (principal, action resource);\n",
    );
    let err = PolicyEngine::load(dir.path()).unwrap_err();
    assert!(matches!(err, PolicyError::Parse { .. }), "{err:?}");
    assert_eq!(err.file().unwrap().file_name().unwrap(), "b-broken.cedar");
    assert_eq!(err.line(), Some(5), "{err}");
    let shown = err.to_string();
    assert!(shown.contains("b-broken.cedar:5:"), "{shown}");
}

#[test]
fn unknown_attribute_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bad.cedar",
        "@id(\"x\")\npermit (principal, action == Action::\"file.read\", resource)\nwhen {\n  resource.owner == \"me\"\n};\n",
    );
    let err = PolicyEngine::load(dir.path()).unwrap_err();
    match &err {
        PolicyError::Invalid {
            file,
            line,
            policy,
            reason,
            ..
        } => {
            assert!(file.ends_with("bad.cedar"));
            assert_eq!(*line, 4, "{err}");
            assert_eq!(policy, "x");
            assert!(reason.contains("owner"), "{reason}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn schema_misuse_is_refused() {
    // Unknown action, unknown entity type, wrong attribute type, unguarded optional
    // attribute, an action on a resource type it never takes.
    for bad in [
        "permit (principal, action == Action::\"file.teleport\", resource);",
        "permit (principal == User::\"x\", action, resource);",
        "permit (principal, action, resource) when { context.in_served_dir == \"yes\" };",
        "permit (principal, action, resource) when { context.declared_task == \"x\" };",
        "permit (principal, action == Action::\"net.egress\", resource is File);",
    ] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "p.cedar", bad);
        let err = PolicyEngine::load(dir.path()).expect_err(bad);
        assert!(matches!(err, PolicyError::Invalid { .. }), "{bad}: {err:?}");
        assert_eq!(err.line(), Some(1), "{bad}: {err}");
    }
}

#[test]
fn approval_annotation_misuse_is_refused() {
    for (bad, line) in [
        (
            "@id(\"a\")\n@approval(\"required\")\npermit (principal, action, resource);",
            2,
        ),
        (
            "\n@approval(\"maybe\")\nforbid (principal, action, resource);",
            2,
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "p.cedar", bad);
        let err = PolicyEngine::load(dir.path()).expect_err(bad);
        assert!(matches!(err, PolicyError::Parse { .. }), "{err:?}");
        assert_eq!(err.line(), Some(line), "{err}");
    }
}

#[test]
fn duplicate_ids_and_empty_directories_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.cedar", READ_REPO);
    write(dir.path(), "b.cedar", READ_REPO);
    let err = PolicyEngine::load(dir.path()).unwrap_err();
    assert!(
        matches!(err, PolicyError::DuplicateId { ref id, .. } if id == "read"),
        "{err:?}"
    );

    let empty = tempfile::tempdir().unwrap();
    write(empty.path(), "README.md", "not a policy");
    let err = PolicyEngine::load(empty.path()).unwrap_err();
    assert!(matches!(err, PolicyError::NoPolicies { .. }), "{err:?}");

    let err = PolicyEngine::load(empty.path().join("missing")).unwrap_err();
    assert!(matches!(err, PolicyError::Io { .. }), "{err:?}");
}

#[test]
fn ids_default_to_file_name_and_index() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "mix.cedar",
        "permit (principal, action == Action::\"file.list\", resource);\n\
         @id(\"named\") permit (principal, action == Action::\"file.read\", resource);\n\
         permit (principal, action == Action::\"file.read\", resource);\n",
    );
    let engine = PolicyEngine::load(dir.path()).unwrap();
    assert_eq!(engine.policy_ids(), ["mix.cedar#0", "mix.cedar#2", "named"]);
    let d = engine.decide(&one(ActionKind::FileRead, "/x", false));
    assert_eq!(d.effect, Effect::Allow);
    assert_eq!(d.policies, ["mix.cedar#2", "named"]);
    let d = engine.decide(&one(ActionKind::FileList, "/x", false));
    assert_eq!(d.policies, ["mix.cedar#0"]);
}

#[test]
fn reload_with_a_broken_file_keeps_the_old_set() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "read.cedar", READ_REPO);
    let engine = PolicyEngine::load(dir.path()).unwrap();
    let read = one(ActionKind::FileRead, "/repo/a", true);
    let write_req = one(ActionKind::FileWrite, "/repo/a", true);
    assert_eq!(engine.decide(&read).effect, Effect::Allow);
    assert_eq!(engine.decide(&write_req).effect, Effect::Deny);

    // A new file that would allow writes, next to a broken one: nothing of it applies.
    write(
        dir.path(),
        "write.cedar",
        "@id(\"write\") permit (principal, action == Action::\"file.write\", resource);",
    );
    write(
        dir.path(),
        "zz-broken.cedar",
        "forbid (principal, action, resource) when { nope };",
    );
    let before = engine.policy_ids();
    let err = engine.reload(dir.path()).unwrap_err();
    assert_eq!(err.file().unwrap().file_name().unwrap(), "zz-broken.cedar");
    assert_eq!(engine.policy_ids(), before);
    assert_eq!(engine.decide(&read).effect, Effect::Allow);
    assert_eq!(engine.decide(&write_req).effect, Effect::Deny);

    // Fixed: the reload takes effect.
    std::fs::remove_file(dir.path().join("zz-broken.cedar")).unwrap();
    engine.reload(dir.path()).unwrap();
    let d = engine.decide(&write_req);
    assert_eq!(d.effect, Effect::Allow);
    assert_eq!(d.policies, ["write"]);
}
