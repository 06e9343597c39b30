//! Bundles exported from a real data directory, verified offline, and tampered with in each
//! way an auditor must catch: every class is detected with a message naming the item.

mod common;

use std::path::{Path, PathBuf};

use brig_evidence::bundle::{self, Files};
use brig_evidence::export::{self, Options, Scope};
use brig_evidence::verify::{verify, verify_file, Report};
use brig_ledger::note::{NoteSigner, NoteVerifier};
use common::*;

struct Fixture {
    _tmp: tempfile::TempDir,
    bundle: PathBuf,
    key: NoteVerifier,
    signer: NoteSigner,
}

fn exported(compress: bool) -> Fixture {
    let tmp = tempfile::Builder::new()
        .prefix("evidence")
        .tempdir()
        .unwrap();
    let (dir, signer) = small_ledger(&tmp.path().join("data"));
    let out = tmp
        .path()
        .join(if compress { "b.tar.zst" } else { "b.tar" });
    let scope = Scope::Agent {
        agent: AGENT.into(),
        session: None,
        from: None,
        to: None,
    };
    let opts = Options {
        by: "alice".into(),
        compress,
        note: Some("case 41".into()),
        include_secrets: false,
    };
    let s = export::export(&dir, &scope, &out, &opts).unwrap();
    assert_eq!(s.events, 15, "{s:?}");
    assert_eq!(s.older_checkpoints, 1, "{s:?}");
    Fixture {
        _tmp: tmp,
        bundle: out,
        key: signer.verifier(),
        signer,
    }
}

fn problems(r: &Report) -> String {
    r.problems
        .iter()
        .map(|p| format!("{}: {}\n", p.item, p.what))
        .collect()
}

/// Verifies `files` with the real key and expects a failure naming `item`.
fn fails_naming(files: &Files, key: &NoteVerifier, item: &str) -> Report {
    let r = verify(files, Some(key));
    assert!(!r.ok, "tampering with {item} went unnoticed");
    assert!(
        r.problems.iter().any(|p| p.item == item),
        "no problem names {item}:\n{}",
        problems(&r)
    );
    r
}

fn read(p: &Path) -> Files {
    bundle::read(p).unwrap()
}

fn flip(files: &mut Files, path: &str, at: usize) {
    let d = &mut files
        .entries
        .iter_mut()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("{path} not in bundle"))
        .1;
    let i = at.min(d.len() - 1);
    d[i] ^= 0x01;
}

#[test]
fn an_exported_bundle_verifies_offline_plain_and_compressed() {
    for compress in [false, true] {
        let f = exported(compress);
        let r = verify_file(&f.bundle, Some(&f.key));
        assert!(r.ok, "{}", problems(&r));
        assert_eq!(r.checked.events, 15);
        assert_eq!(
            r.checked.checkpoints, 2,
            "newest + the older one linked by consistency"
        );
        assert_eq!(r.checked.custody, 1);
        assert_eq!(r.checked.payloads, 9, "{:?}", r.checked);
        // Without --key: intact, but the report says whose key it trusted.
        let r = verify_file(&f.bundle, None);
        assert!(
            r.ok && r.warnings.iter().any(|w| w.contains("--key")),
            "{:?}",
            r.warnings
        );
    }
}

#[test]
fn the_bundle_holds_what_an_investigator_needs() {
    let f = exported(false);
    let files = read(&f.bundle);
    let text = |p: &str| {
        String::from_utf8(files.get(p).unwrap_or_else(|| panic!("no {p}")).to_vec()).unwrap()
    };
    // The other agent's event is not in scope.
    let m: bundle::Manifest = serde_json::from_str(&text("manifest.json")).unwrap();
    assert_eq!(m.scope.sessions, vec!["s1".to_string()]);
    assert!(!files
        .entries
        .iter()
        .any(|(p, _)| p == "ledger/events/12.json"));
    // File changes with pre-image (read back before the write), post-image and diff.
    let diff = text("changes/3-0.diff");
    assert!(diff.contains("-beta") && diff.contains("+BETA"), "{diff}");
    assert_eq!(text("changes/3-0.pre"), "alpha\nbeta\n");
    assert_eq!(text("changes/3-0.post"), "alpha\nBETA\n");
    // The denied write is a call that did not run: no change recorded for it.
    assert!(!files
        .entries
        .iter()
        .any(|(p, _)| p.starts_with("changes/13-")));
    // Readable session: the denied call with its decisions, the alert.
    let s: serde_json::Value = serde_json::from_str(&text("sessions/s1.json")).unwrap();
    let calls = s["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 5);
    let denied = calls.iter().find(|c| c["call"] == "3").unwrap();
    assert_eq!(denied["ran"], false, "{denied:#}");
    assert_eq!(denied["arguments"]["content"], "PASSWORD=\n");
    assert_eq!(s["alerts"].as_array().unwrap().len(), 1);
    // Custody: who exported, from where, with which version, and the note.
    let c = brig_evidence::custody::parse(files.get("custody/000000.note").unwrap()).unwrap();
    assert_eq!(
        (c.action.as_str(), c.by.as_str(), c.note.as_deref()),
        ("exported", "alice", Some("case 41"))
    );
    assert!(!c.host.is_empty() && !c.brig_version.is_empty());
}

#[test]
fn each_class_of_tampering_is_named() {
    let f = exported(false);
    let orig = read(&f.bundle);
    let key = &f.key;

    let mut t = read(&f.bundle);
    flip(&mut t, "ledger/events/3.json", 40);
    let r = fails_naming(&t, key, "ledger/events/3.json");
    assert!(
        problems(&r).contains("altered") || problems(&r).contains("not"),
        "{}",
        problems(&r)
    );

    let mut t = read(&f.bundle);
    flip(&mut t, "payloads/3/arguments.salted", 30);
    fails_naming(&t, key, "payloads/3/arguments.salted");

    let mut t = read(&f.bundle);
    flip(&mut t, "changes/3-0.diff", 5);
    fails_naming(&t, key, "changes/3-0.diff");

    let mut t = read(&f.bundle);
    let m = String::from_utf8(t.get("manifest.json").unwrap().to_vec()).unwrap();
    let edited = m.replacen("\"events\": 15", "\"events\": 14", 1);
    assert_ne!(m, edited);
    t.entries
        .iter_mut()
        .find(|(p, _)| p == "manifest.json")
        .unwrap()
        .1 = edited.into_bytes();
    fails_naming(&t, key, "manifest.json");

    let mut t = read(&f.bundle);
    flip(&mut t, "ledger/proofs/3.tlog-proof", 60);
    fails_naming(&t, key, "ledger/proofs/3.tlog-proof");

    let mut t = read(&f.bundle);
    flip(&mut t, "ledger/checkpoint", 30);
    fails_naming(&t, key, "ledger/checkpoint");

    // An event removed (with its proof): the manifest still lists it.
    let mut t = read(&f.bundle);
    t.entries
        .retain(|(p, _)| p != "ledger/events/4.json" && p != "ledger/proofs/4.tlog-proof");
    fails_naming(&t, key, "ledger/events/4.json");

    // An event added: another leaf under a new index, with a copied proof.
    let mut t = read(&f.bundle);
    let leaf = t.get("ledger/events/3.json").unwrap().to_vec();
    let proof = t.get("ledger/proofs/3.tlog-proof").unwrap().to_vec();
    t.add("ledger/events/12.json", leaf);
    t.add("ledger/proofs/12.tlog-proof", proof);
    let r = fails_naming(&t, key, "ledger/events/12.json");
    assert!(
        problems(&r).contains("not listed in the manifest"),
        "{}",
        problems(&r)
    );

    // A file the manifest does not list.
    let mut t = read(&f.bundle);
    t.add("changes/notes.txt", b"nothing to see".to_vec());
    fails_naming(&t, key, "changes/notes.txt");

    // The custody log edited.
    let mut t = read(&f.bundle);
    let c = String::from_utf8(t.get("custody/000000.note").unwrap().to_vec()).unwrap();
    t.entries
        .iter_mut()
        .find(|(p, _)| p == "custody/000000.note")
        .unwrap()
        .1 = c.replacen("alice", "mallory", 1).into_bytes();
    fails_naming(&t, key, "custody/000000.note");

    // Re-signed with another key (manifest, checkpoint and key file all replaced) while
    // --key names the real one.
    let mallory = NoteSigner::generate("example.org/brig-test").unwrap();
    let mut t = read(&f.bundle);
    let sha = bundle::sha256_hex(t.get("manifest.json").unwrap());
    let sig = mallory
        .sign(&bundle::manifest_sig_text("example.org/brig-test", &sha))
        .unwrap();
    for (p, d) in t.entries.iter_mut() {
        match p.as_str() {
            "manifest.sig" => *d = sig.clone().into_bytes(),
            "keys/ledger.vkey" => *d = format!("{}\n", mallory.verifier().to_vkey()).into_bytes(),
            _ => {}
        }
    }
    fails_naming(&t, key, "manifest.sig");
    fails_naming(&t, key, "keys/ledger.vkey");
    // … and with the forger's own key in hand it still does not hold together.
    assert!(!verify(&t, None).ok);

    // Untouched, it still verifies.
    assert!(verify(&orig, Some(key)).ok);
}

#[test]
fn custody_hand_offs_chain_and_an_edited_one_is_caught() {
    let f = exported(true);
    let counsel = NoteSigner::generate("counsel@example.org").unwrap();
    let mut files = read(&f.bundle);
    let sha = bundle::sha256_hex(files.get("manifest.json").unwrap());
    brig_evidence::custody::append(&mut files, "received", "J. Doe", None, &counsel, &sha).unwrap();
    brig_evidence::custody::append(
        &mut files,
        "stored",
        "Vault 3",
        Some("WORM".into()),
        &f.signer,
        &sha,
    )
    .unwrap();
    let r = verify(&files, Some(&f.key));
    assert!(r.ok, "{}", problems(&r));
    assert_eq!(r.custody.len(), 3);
    assert!(r.custody[1].key_id.starts_with("counsel@example.org "));

    // The middle entry rewritten (re-signed by the same person): the next one no longer
    // names it.
    let mut t = read_back(&files);
    let e1 = brig_evidence::custody::parse(t.get("custody/000001.note").unwrap()).unwrap();
    let mut forged = e1.clone();
    forged.by = "Someone Else".into();
    let data = brig_evidence::custody::sign(&forged, &counsel).unwrap();
    t.entries
        .iter_mut()
        .find(|(p, _)| p == "custody/000001.note")
        .unwrap()
        .1 = data;
    fails_naming(&t, &f.key, "custody/000002.note");

    // The export entry dropped: the chain must start with it.
    let mut t = read_back(&files);
    t.entries.retain(|(p, _)| p != "custody/000000.note");
    let r = verify(&t, Some(&f.key));
    assert!(!r.ok);
    assert!(
        r.problems.iter().any(|p| p.item.starts_with("custody/")),
        "{}",
        problems(&r)
    );
}

fn read_back(files: &Files) -> Files {
    let mut f = Files::default();
    for (p, d) in &files.entries {
        f.add(p.clone(), d.clone());
    }
    f
}

#[test]
fn a_damaged_or_hostile_archive_is_refused_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("x.tar");
    std::fs::write(&p, b"this is not a tar archive at all").unwrap();
    let r = verify_file(&p, None);
    assert!(!r.ok && r.problems[0].item == "bundle", "{:?}", r.problems);
    // A path that climbs out of the bundle.
    let mut files = Files::default();
    files.add("../../etc/passwd", b"root".to_vec());
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_entry_type(tar::EntryType::Regular);
    // `append_data` refuses `..`; write the raw name the way a hostile tool would.
    h.as_gnu_mut().unwrap().name[..16].copy_from_slice(b"../../etc/passwd");
    h.set_cksum();
    b.append(&h, &b"root"[..]).unwrap();
    std::fs::write(&p, b.into_inner().unwrap()).unwrap();
    let r = verify_file(&p, None);
    assert!(!r.ok, "{:?}", r);
    assert!(
        r.problems[0].what.contains("not a plain relative path"),
        "{:?}",
        r.problems
    );
}
