//! The command line as a user drives it: init, ingest, show, checkpoint, prove, verify-proof.

mod common;

use std::path::Path;

use brig_ledger::checkpoint::open_checkpoint;
use brig_ledger::merkle::leaf_hash;
use brig_ledger::note::NoteVerifier;
use brig_ledger::tlog_proof::TlogProof;
use common::*;

fn example() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/events.jsonl")
}

fn vkey_of(data: &Path) -> String {
    std::fs::read_to_string(data.join("keys/ledger.vkey"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn init_prints_the_verifier_key_and_refuses_to_reinit() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    let o = run(&data, &["init", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let vkey = v["vkey"].as_str().unwrap();
    assert_eq!(vkey, vkey_of(&data));
    assert!(NoteVerifier::from_vkey(vkey).is_ok());
    let o = run(&data, &["init"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("already holds a Brig data directory"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn commands_on_a_missing_data_dir_say_to_run_init() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(&tmp.path().join("nope"), &["ledger", "verify"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("run `brig init"), "{}", stderr(&o));
}

#[test]
fn quick_start_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let data = init(tmp.path());
    let vkey = vkey_of(&data);
    let o = run(&data, &["ingest", "--json", example().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let n = std::fs::read_to_string(example()).unwrap().lines().count() as u64;
    assert_eq!(summary["appended"], n);
    assert_eq!(summary["checkpoint"]["size"], n);

    // Ingesting the same file again records nothing new: the events carry their ids.
    let o = run(&data, &["ingest", "--json", example().to_str().unwrap()]);
    let again: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (again["appended"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(n))
    );

    // The checkpoint verifies under the C2SP rules with only the printed vkey.
    let o = run(&data, &["ledger", "checkpoint"]);
    assert!(o.status.success());
    let cp = open_checkpoint(&o.stdout, &NoteVerifier::from_vkey(&vkey).unwrap()).unwrap();
    assert_eq!((cp.size, cp.origin.as_str()), (n, "brig.test/ledger"));

    // show: human and JSON, with payloads resolved from the blob store.
    let o = run(&data, &["ledger", "show"]);
    assert_eq!(stdout(&o).lines().count() as u64, n);
    assert!(stdout(&o).contains("net.egress https://paste.example.net/api/upload"));
    let o = run(
        &data,
        &["ledger", "show", "--index", "0", "--json", "--payloads"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["payloads"]["user"]
        .as_str()
        .unwrap()
        .contains("test_rounding"));
    assert!(v["event"]["payload"]["user"]["salted_sha256"].is_string());

    // prove -> verify-proof, offline, with the proof file and the key alone.
    let proof_path = tmp.path().join("e16.tlog-proof");
    let o = run(
        &data,
        &[
            "ledger",
            "prove",
            "--index",
            "16",
            "-o",
            proof_path.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = brig()
        .args([
            "ledger",
            "verify-proof",
            proof_path.to_str().unwrap(),
            "--key",
            &vkey,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("OK: the leaf is event 16"),
        "{}",
        stdout(&o)
    );

    // The raw leaf is exactly what the proof commits to.
    let raw = run(&data, &["ledger", "show", "--index", "16", "--raw"]).stdout;
    let proof = TlogProof::parse(&std::fs::read(&proof_path).unwrap()).unwrap();
    assert_eq!(proof.extra.as_deref(), Some(raw.as_slice()));
    assert!(proof
        .verify(&leaf_hash(&raw), &NoteVerifier::from_vkey(&vkey).unwrap())
        .is_ok());

    // Wrong key, wrong leaf, altered proof: all refused with exit 4.
    let other = tempfile::tempdir().unwrap();
    let other_data = init(other.path());
    let o = brig()
        .args([
            "ledger",
            "verify-proof",
            proof_path.to_str().unwrap(),
            "--key",
        ])
        .arg(other_data.join("keys/ledger.vkey"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let leaf3 = tmp.path().join("leaf3");
    std::fs::write(
        &leaf3,
        run(&data, &["ledger", "show", "--index", "3", "--raw"]).stdout,
    )
    .unwrap();
    let o = brig()
        .args([
            "ledger",
            "verify-proof",
            proof_path.to_str().unwrap(),
            "--key",
            &vkey,
            "--leaf",
        ])
        .arg(&leaf3)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let mut altered = proof.clone();
    altered.proof[0][0] ^= 1;
    let altered_path = tmp.path().join("altered.tlog-proof");
    std::fs::write(&altered_path, altered.to_text()).unwrap();
    let o = brig()
        .args([
            "ledger",
            "verify-proof",
            altered_path.to_str().unwrap(),
            "--key",
            &vkey,
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));

    let o = run(&data, &["ledger", "verify", "--deep", "--key", &vkey]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn bad_input_is_rejected_by_line_and_nothing_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let data = init(tmp.path());
    let good = event_lines(5, 9);
    let mut input: Vec<u8> = Vec::new();
    let mut push = |line: &[u8]| {
        input.extend_from_slice(line);
        input.push(b'\n');
    };
    push(good[0].as_bytes()); // 1
    push(b"{\"source\": \"x\", \"agent\": "); // 2: malformed JSON
    push(good[1].as_bytes()); // 3
    push(br#"{"source":"x","agent":["a"],"kind":"alert"}"#); // 4: wrong type
    push(br#"{"source":"x","agent":"a","kind":"tool.teleport"}"#); // 5: unknown kind
    push(&[b'{', 0xff, 0xfe, b'}']); // 6: not UTF-8
    push(
        format!(
            r#"{{"source":"x","agent":"a","kind":"alert","attrs":{{"pad":"{}"}}}}"#,
            "x".repeat(5000)
        )
        .as_bytes(),
    ); // 7: oversize
    push(b""); // 8: blank, skipped
    push(good[2].as_bytes()); // 9
    push(br#"{"source":"x","agent":"a","kind":"tool.call"}"#); // 10: tool missing
    push(good[3].as_bytes()); // 11
    push(good[4].as_bytes()); // 12
    let file = tmp.path().join("mixed.jsonl");
    std::fs::write(&file, &input).unwrap();

    let o = run(
        &data,
        &["ingest", "--max-line-bytes", "4096", file.to_str().unwrap()],
    );
    assert_eq!(
        o.status.code(),
        Some(3),
        "exit code says lines were rejected"
    );
    let err = stderr(&o);
    for (line, says) in [
        (2, "EOF while parsing"),
        (4, "invalid type: sequence"),
        (5, "unknown variant `tool.teleport`"),
        (6, "not valid UTF-8"),
        (7, "the limit is 4096"),
        (10, "field `tool`: required for tool.call events"),
    ] {
        let needle = format!("line {line}: ");
        let msg = err
            .lines()
            .find(|l| l.contains(&needle))
            .unwrap_or_else(|| panic!("no error for line {line} in:\n{err}"));
        assert!(
            msg.contains(says),
            "line {line}: expected `{says}` in `{msg}`"
        );
    }
    assert!(err.contains("recorded 5 events"), "{err}");

    let o = run(&data, &["ledger", "show", "--json"]);
    assert_eq!(stdout(&o).lines().count(), 5, "all valid lines were kept");
    let o = run(&data, &["ledger", "verify"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The example session exported as evidence; a hand-off recorded with a key of the
/// recipient's own; the chain shown and the bundle still verifying; a custody entry signed
/// with a key that is not one refused with a reason.
#[test]
fn evidence_export_custody_hand_off_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let data = init(tmp.path());
    let o = run(&data, &["ingest", example().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bundle = tmp.path().join("repo-assistant.tar");
    let b = bundle.to_str().unwrap();
    let o = run(
        &data,
        &[
            "evidence",
            "export",
            "--agent",
            "repo-assistant",
            "-o",
            b,
            "--by",
            "alice",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("events proven against checkpoint"),
        "{}",
        stdout(&o)
    );

    let prefix = tmp.path().join("counsel");
    let o = brig()
        .args(["evidence", "keygen", "counsel@example.org", "-o"])
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let skey = prefix.with_extension("skey");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&skey).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let o = brig()
        .args([
            "evidence", "custody", "add", b, "--by", "J. Doe", "--action", "received", "--note",
            "case 41", "--key",
        ])
        .arg(&skey)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = brig()
        .args(["evidence", "custody", "show", b, "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stdout(&o));
    let chain: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let entries = chain["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{chain:#}");
    assert_eq!(entries[0]["entry"]["by"], "alice");
    assert_eq!(entries[1]["entry"]["note"], "case 41");
    assert!(entries[1]["key_id"]
        .as_str()
        .unwrap()
        .starts_with("counsel@example.org "));

    let o = brig()
        .args(["evidence", "verify", b, "--key"])
        .arg(data.join("keys/ledger.vkey"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("2 custody entries"), "{}", stdout(&o));

    let o = brig()
        .args(["evidence", "show", b, "--json"])
        .output()
        .unwrap();
    let show: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(show["manifest"]["scope"]["agent"], "repo-assistant");

    let bad = tmp.path().join("not-a-key");
    std::fs::write(&bad, "hello\n").unwrap();
    let o = brig()
        .args(["evidence", "custody", "add", b, "--by", "x", "--key"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("is not a signing key"),
        "{}",
        stderr(&o)
    );
}
