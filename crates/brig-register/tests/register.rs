//! The shipped example loads; targets get their classes; bad registers are refused with
//! the file, the line and the reason.

use std::path::Path;

use brig_register::{Register, RegisterError, Rollback, Severity};

fn example() -> Register {
    Register::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/brig.toml")).unwrap()
}

#[test]
fn the_shipped_example_loads_and_classifies() {
    let r = example();
    assert_eq!(r.workflows.len(), 2);
    assert_eq!(r.playbook.contain_at, Severity::SecurityIncident);
    let classes = |t: &str| r.classes_of(t).into_iter().collect::<Vec<_>>();
    assert_eq!(
        classes("/srv/data/customers/2025/eu.parquet"),
        ["customer", "pii"]
    );
    assert_eq!(classes("/srv/exports/q3/all.csv"), ["customer", "pii"]);
    assert_eq!(classes("/srv/exports/q3/readme.md"), Vec::<String>::new());
    assert_eq!(classes("/home/dana/.aws/credentials"), ["secrets"]);
    assert_eq!(classes("/srv/repos/app/.env"), ["secrets", "trade_secret"]);
    assert_eq!(
        classes("/home/dana/notes/hr/review.md"),
        ["hr_confidential", "pii"]
    );
    assert_eq!(
        classes("postgres://db-customers.contoso.internal:5432/app"),
        ["customer", "pii"]
    );
    assert_eq!(classes("invoices"), ["customer", "pii"]);
    let creds = r.resources_of("/home/dana/.ssh/id_ed25519").next().unwrap();
    assert!(!creds.reversible);
    assert_eq!(creds.rollback, Some(Rollback::Manual));
    assert!(r.is_internal("ana@contoso.com"));
    assert!(r.is_internal("https://wiki.contoso.internal/x"));
    assert!(r.is_internal("alertmanager.monitoring.svc.cluster.local"));
    assert!(!r.is_internal("contoso.dataops@gmail.com"));
    assert!(!r.is_internal("https://evilcontoso.com/"));
    assert_eq!(
        r.workflow_of("devbox-coder").unwrap().name,
        "repo-maintenance"
    );
}

#[test]
fn an_empty_register_has_safe_defaults() {
    let r = Register::parse("", "brig.toml").unwrap();
    assert_eq!(r.playbook.contain_at, Severity::SecurityIncident);
    assert!(r.playbook.cancel_approvals);
    assert!(r.data_classes.contains_key("pii"));
}

fn refused(text: &str) -> (usize, String) {
    match Register::parse(text, "brig.toml") {
        Err(RegisterError::Invalid {
            file,
            line,
            message,
            ..
        }) => {
            assert_eq!(file, "brig.toml");
            (line, message)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn bad_registers_are_refused_with_line_and_reason() {
    let (line, msg) = refused("internal_domains = [\"contoso.com\"]\n\n[[resource]]\nname = \"x\"\nclasses = [\"pii\", \"secret\"]\n");
    assert_eq!(line, 5);
    assert!(msg.contains("unknown data class `secret`"), "{msg}");

    let (line, msg) = refused("[[resource]]\nname = \"x\"\npaths = [\"/srv/[a\"]\n");
    assert_eq!(line, 3);
    assert!(msg.contains("bad glob"), "{msg}");

    let (line, msg) = refused("[[resource]]\nname = \"x\"\npaths = [\"srv/**\"]\n");
    assert_eq!(line, 3);
    assert!(msg.contains("must be absolute"), "{msg}");

    let (line, msg) = refused("[playbook]\ncontain_at = \"urgent\"\n");
    assert_eq!(line, 2);
    assert!(msg.contains("unknown variant"), "{msg}");

    let (line, msg) = refused("[[workflow]]\nname = \"a\"\nagnets = [\"x\"]\n");
    assert_eq!(line, 3);
    assert!(msg.contains("agnets"), "{msg}");

    let (line, msg) = refused("[[workflow]]\nname = \"a\"\n[[workflow]]\nname = \"a\"\n");
    assert_eq!(line, 4);
    assert!(msg.contains("declared twice"), "{msg}");

    let (_, msg) = refused("internal_domains = [\"contoso.com\"\n");
    assert!(!msg.is_empty());

    let (line, msg) =
        refused("[[resource]]\nname = \"x\"\nreversible = false\nrollback = \"git\"\n");
    assert_eq!(line, 2);
    assert!(msg.contains("contradicts"), "{msg}");
}

#[test]
fn a_missing_file_is_named() {
    let err = Register::load(Path::new("/nonexistent/brig.toml")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/brig.toml"), "{err}");
}
