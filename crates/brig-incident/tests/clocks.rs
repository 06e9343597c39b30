//! Reporting clocks: the shipped table, deadlines, and refusals of bad tables.

use std::collections::BTreeSet;

use brig_incident::clocks::{time_left, Obligation, Regimes, STATUS};
use brig_incident::{Outcome, Severity};
use chrono::{TimeZone, Utc};

const HOUR: i64 = 3_600 * 1_000_000_000;
const DAY: i64 = 24 * HOUR;

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .unwrap()
        .timestamp_nanos_opt()
        .unwrap()
}

fn classes(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|c| c.to_string()).collect()
}

fn outcomes(list: &[Outcome]) -> BTreeSet<Outcome> {
    list.iter().copied().collect()
}

fn find<'a>(found: &'a [Obligation], id: &str) -> Option<&'a Obligation> {
    found.iter().find(|o| o.regime == id)
}

/// A one-row table with `body` as its fields, the id on line 2.
fn one_row(body: &str) -> String {
    format!("[[regime]]\nid = \"r\"\n{body}")
}

const GOOD: &str = "name = \"n\"\njurisdiction = \"j\"\nnotify = \"x\"\nsource = \"s\"\n";

fn refusal(text: &str) -> String {
    Regimes::parse(text, "mine.toml")
        .expect_err("the table should be refused")
        .to_string()
}

#[test]
fn the_shipped_table_parses_and_cites_every_row() {
    let rows = &Regimes::builtin().rows;
    assert!(rows.len() >= 10, "{} rows", rows.len());
    for id in [
        "gdpr-art33",
        "gdpr-art34",
        "hipaa-164-404",
        "hipaa-164-408",
        "sec-8k-item-1-05",
        "pci-dss-12-10",
        "nis2-art23-early-warning",
        "nis2-art23-notification",
    ] {
        assert!(rows.iter().any(|r| r.id == id), "no row {id}");
    }
    for r in rows {
        assert!(!r.source.trim().is_empty(), "{} cites nothing", r.id);
        assert!(!r.notify.trim().is_empty(), "{} tells no one", r.id);
    }
}

#[test]
fn personal_data_copied_out_starts_the_gdpr_72_hours() {
    let detected = at(2026, 3, 2, 9, 30);
    let found = Regimes::builtin().candidates(
        &classes(&["pii"]),
        &outcomes(&[Outcome::CopiedOut]),
        Severity::ReportableBreach,
        detected,
    );
    let art33 = find(&found, "gdpr-art33").expect("GDPR art. 33 is a candidate");
    assert_eq!(art33.deadline_nanos, Some(detected + 72 * HOUR));
    assert_eq!(art33.due, "72 hours after detection");
    assert_eq!(art33.status, STATUS);
    assert_eq!(STATUS, "candidate, for legal review");
    assert!(art33.source.contains("Art. 33"));

    // Art. 34 has no fixed time: listed, in words, after every computed deadline.
    let art34 = find(&found, "gdpr-art34").expect("GDPR art. 34 is a candidate");
    assert_eq!(art34.deadline_nanos, None);
    assert_eq!(art34.due, "without undue delay");
    assert!(find(&found, "hipaa-164-404").is_none(), "no PHI, no HIPAA");
}

#[test]
fn health_data_starts_hipaas_60_days() {
    let detected = at(2026, 5, 11, 14, 0);
    let found = Regimes::builtin().candidates(
        &classes(&["phi"]),
        &outcomes(&[Outcome::Exposed]),
        Severity::SecurityIncident,
        detected,
    );
    let hipaa = find(&found, "hipaa-164-404").expect("HIPAA individual notice");
    assert_eq!(hipaa.deadline_nanos, Some(detected + 60 * DAY));
    assert_eq!(hipaa.due, "60 calendar days after detection");
    assert!(find(&found, "hipaa-164-408").is_some());
}

#[test]
fn the_sec_clock_waits_for_materiality() {
    let found = Regimes::builtin().candidates(
        &classes(&[]),
        &outcomes(&[Outcome::Altered]),
        Severity::SecurityIncident,
        at(2026, 1, 5, 8, 0),
    );
    let sec = find(&found, "sec-8k-item-1-05").expect("8-K item 1.05 is a candidate");
    assert_eq!(sec.deadline_nanos, None);
    assert_eq!(
        sec.due,
        "4 business days after the materiality determination"
    );
    assert_eq!(sec.left_secs(0), None);
    assert_eq!(sec.left(0), sec.due);
}

#[test]
fn business_days_step_over_the_weekend() {
    let text = one_row(&format!("{GOOD}deadline = {{ business_days = 4 }}\n"));
    let table = Regimes::parse(&text, "mine.toml").unwrap();
    let friday = at(2026, 12, 4, 10, 0);
    let found = table.candidates(
        &classes(&[]),
        &outcomes(&[]),
        Severity::ReportableBreach,
        friday,
    );
    assert_eq!(found[0].deadline_nanos, Some(at(2026, 12, 10, 10, 0)));
    assert_eq!(found[0].due, "4 business days after detection");

    // A Saturday detection: the first business day ends on Monday.
    let saturday = at(2026, 12, 5, 10, 0);
    let one = Regimes::parse(&text.replace("= 4", "= 1"), "mine.toml").unwrap();
    let found = one.candidates(
        &classes(&[]),
        &outcomes(&[]),
        Severity::ReportableBreach,
        saturday,
    );
    assert_eq!(found[0].deadline_nanos, Some(at(2026, 12, 7, 10, 0)));
}

#[test]
fn candidates_come_earliest_first_and_uncomputed_last() {
    let found = Regimes::builtin().candidates(
        &classes(&["pii", "phi", "pci"]),
        &outcomes(&[Outcome::CopiedOut]),
        Severity::ReportableBreach,
        at(2026, 6, 1, 0, 0),
    );
    let keys: Vec<_> = found.iter().map(|o| o.deadline_nanos).collect();
    let first_none = keys.iter().position(Option::is_none).unwrap();
    assert!(
        keys[..first_none].windows(2).all(|w| w[0] <= w[1]),
        "{keys:?}"
    );
    assert!(keys[first_none..].iter().all(Option::is_none), "{keys:?}");
}

#[test]
fn advisories_and_classless_incidents_trigger_no_gdpr() {
    let regimes = Regimes::builtin();
    let copied = outcomes(&[Outcome::CopiedOut]);
    let advisory = regimes.candidates(&classes(&["pii"]), &copied, Severity::Advisory, 0);
    assert!(advisory.is_empty(), "{advisory:?}");
    let classless = regimes.candidates(&classes(&[]), &copied, Severity::ReportableBreach, 0);
    assert!(find(&classless, "gdpr-art33").is_none());
    // Evasion alone is no personal data breach.
    let evasion = outcomes(&[Outcome::Evasion]);
    let hid = regimes.candidates(&classes(&["pii"]), &evasion, Severity::ReportableBreach, 0);
    assert!(find(&hid, "gdpr-art33").is_none());
}

#[test]
fn an_unknown_key_is_refused_at_its_line() {
    let text = one_row(&format!(
        "clases = [\"pii\"]\n{GOOD}deadline = {{ hours = 1 }}\n"
    ));
    let e = refusal(&text);
    assert!(e.starts_with("mine.toml:3:"), "{e}");
    assert!(e.contains("clases"), "{e}");
}

#[test]
fn an_unknown_outcome_is_refused_at_its_line() {
    let text = one_row(&format!("{GOOD}outcomes = [\"leaked\"]\ndue = \"soon\"\n"));
    let e = refusal(&text);
    assert!(e.starts_with("mine.toml:7:"), "{e}");
    assert!(e.contains("unknown outcome `leaked`"), "{e}");
}

#[test]
fn an_unknown_severity_is_refused() {
    let text = one_row(&format!("{GOOD}min_severity = \"grave\"\ndue = \"soon\"\n"));
    let e = refusal(&text);
    assert!(e.starts_with("mine.toml:7:"), "{e}");
    assert!(e.contains("unknown severity `grave`"), "{e}");
}

#[test]
fn a_duplicate_id_is_refused_at_the_second() {
    let row = one_row(&format!("{GOOD}due = \"soon\"\n"));
    let e = refusal(&format!("{row}{row}"));
    assert!(e.starts_with("mine.toml:9:"), "{e}");
    assert!(e.contains("`r` is declared twice"), "{e}");
}

#[test]
fn two_deadline_kinds_are_refused() {
    let text = one_row(&format!("{GOOD}deadline = {{ hours = 72, days = 3 }}\n"));
    let e = refusal(&text);
    assert!(e.starts_with("mine.toml:7:"), "{e}");
    assert!(e.contains("two kinds, `hours` and `days`"), "{e}");
}

#[test]
fn zero_negative_and_missing_deadlines_are_refused() {
    for bad in ["{ days = 0 }", "{ hours = -4 }"] {
        let e = refusal(&one_row(&format!("{GOOD}deadline = {bad}\n")));
        assert!(e.starts_with("mine.toml:7:"), "{e}");
        assert!(e.contains("must be a positive number"), "{e}");
    }
    let e = refusal(&one_row(GOOD));
    assert!(
        e.starts_with("mine.toml:2:") && e.contains("says no time"),
        "{e}"
    );
    let e = refusal(&one_row(&format!(
        "{GOOD}deadline = {{ hours = 1, from = \"lunch\" }}\n"
    )));
    assert!(e.contains("from `lunch`"), "{e}");
    let e = refusal(&one_row(&format!(
        "{GOOD}deadline = {{ hours = 1 }}\ndue = \"x\"\n"
    )));
    assert!(e.starts_with("mine.toml:8:") && e.contains("both"), "{e}");
}

#[test]
fn a_table_file_is_loaded_and_a_missing_one_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("regimes.toml");
    std::fs::write(
        &path,
        one_row(&format!("{GOOD}deadline = {{ days = 1 }}\n")),
    )
    .unwrap();
    let table = Regimes::load(&path).unwrap();
    assert_eq!(table.rows[0].due, "1 calendar day after detection");
    let e = Regimes::load(&dir.path().join("absent.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("absent.toml: cannot read"), "{e}");
}

#[test]
fn time_left_reads_both_ways() {
    let deadline = at(2026, 3, 5, 12, 0);
    assert_eq!(
        time_left(deadline, deadline - 61 * HOUR - 12 * 60 * 1_000_000_000),
        "61 h 12 min left"
    );
    assert_eq!(
        time_left(deadline, deadline + 3 * HOUR + 5 * 60 * 1_000_000_000),
        "overdue by 3 h 05 min"
    );
    assert_eq!(
        time_left(deadline, deadline - 42 * 60 * 1_000_000_000),
        "42 min left"
    );
    assert_eq!(
        time_left(deadline, deadline - 12 * DAY - 4 * HOUR),
        "12 d 4 h left"
    );
    assert_eq!(
        time_left(deadline, deadline + 30 * 1_000_000_000),
        "due now"
    );
    assert_eq!(time_left(i64::MAX, i64::MIN), "213503 d 23 h left");
}

#[test]
fn obligations_count_seconds_left() {
    let detected = at(2026, 3, 2, 9, 30);
    let found = Regimes::builtin().candidates(
        &classes(&["pii"]),
        &outcomes(&[Outcome::Exposed]),
        Severity::SecurityIncident,
        detected,
    );
    let art33 = find(&found, "gdpr-art33").unwrap();
    assert_eq!(art33.left_secs(detected), Some(72 * 3_600));
    assert_eq!(art33.left_secs(detected + 73 * HOUR), Some(-3_600));
    assert_eq!(art33.left(detected + HOUR), "71 h 00 min left");
}
