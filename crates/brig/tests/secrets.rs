//! Secrets in payloads, end to end with the real binary, on SQLite and PostgreSQL: events
//! carrying fake keys are ingested; their evidence bundle's readable files hold none of the
//! values, the raw payloads that hold them are withheld and `brig evidence verify` lists them
//! and passes; `--include-secrets` puts them in (bound by their digests, recorded in the
//! ledger); `brig ledger erase` deletes a payload's bytes from the store, `brig ledger
//! verify --deep` passes and lists the erasure, and a later export verifies offline with
//! the payload reported erased. A blob deleted without an erasure still fails verify.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Value};

// Fake keys: AWS's documented example key pair, and made-up tokens in each vendor's format.
const AWS_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const GITHUB: &str = "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8";
const BEARER: &str = "3f9a0c2b7e4d4a51b8c6d2e1f0a9b8c7";
const PEM_BODY: &str = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun";
const URL_PASSWORD: &str = "Sup3rS3cretPw";
const FIELD_PASSWORD: &str = "hunter2-Tr0ub4dor";

/// Every secret value the events carry.
const VALUES: &[&str] = &[
    AWS_ID,
    AWS_SECRET,
    GITHUB,
    BEARER,
    PEM_BODY,
    URL_PASSWORD,
    FIELD_PASSWORD,
];

fn events() -> Vec<String> {
    let pem =
        format!("-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----\n");
    let call = json!({
        "source": "test", "agent": "deploy-bot", "session": "s-secrets", "kind": "tool.call",
        "tool": "bash", "call": "1",
        "actions": [{"action": "net.egress", "target": format!("https://deploy:{URL_PASSWORD}@db.internal/export")}],
        "payload": {"arguments": {"command": format!(
            "AWS_ACCESS_KEY_ID={AWS_ID} AWS_SECRET_ACCESS_KEY={AWS_SECRET} ./deploy.sh && curl -H 'Authorization: Bearer {BEARER}' https://api.example.com"
        )}}
    });
    let result = json!({
        "source": "test", "agent": "deploy-bot", "session": "s-secrets", "kind": "tool.result",
        "tool": "bash", "call": "1",
        "payload": {"result": {"stdout": format!("cloned with {GITHUB}\n{pem}"), "config": {"password": FIELD_PASSWORD}}}
    });
    let benign = json!({
        "source": "test", "agent": "deploy-bot", "session": "s-secrets", "kind": "tool.call",
        "tool": "read_file", "call": "2",
        "payload": {"arguments": {"path": "/srv/app/README.md"}}
    });
    [call, result, benign]
        .iter()
        .map(Value::to_string)
        .collect()
}

fn json_of(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}\n{}", stdout(o), stderr(o)))
}

fn export(data: &Path, out: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "evidence",
        "export",
        "--session",
        "s-secrets",
        "-o",
        out.to_str().unwrap(),
        "--by",
        "alice",
        "--json",
    ];
    args.extend(extra);
    let o = run(data, &args);
    assert!(o.status.success(), "export: {}", stderr(&o));
    json_of(&o)
}

/// `brig evidence verify --json` with the pinned key, as an auditor without the data
/// directory would run it.
fn verify_bundle(bundle: &Path, vkey: &Path) -> Value {
    let o = brig()
        .args(["evidence", "verify", "--json", "--key"])
        .arg(vkey)
        .arg(bundle)
        .output()
        .unwrap();
    let v = json_of(&o);
    assert_eq!(v["ok"], true, "bundle must verify: {}", v["problems"]);
    assert_eq!(o.status.code(), Some(0));
    v
}

fn files_of(bundle: &Path) -> Vec<(String, Vec<u8>)> {
    brig_evidence::bundle::read(bundle).unwrap().entries
}

/// The ledger indices of the events by kind and tool (0 = the call with the keys).
fn ids(data: &Path) -> Vec<(u64, String, Value)> {
    let o = run(data, &["ledger", "show", "--json"]);
    stdout(&o)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["index"].as_u64().unwrap(),
                v["event"]["id"].as_str().unwrap().to_string(),
                v["event"].clone(),
            )
        })
        .collect()
}

/// The bytes of the store's files (SQLite) or the blob rows (PostgreSQL) hold `needle`.
fn store_holds(data: &Path, needle: &str) -> bool {
    if backend() == "sqlite" {
        ["ledger.db", "ledger.db-wal"].iter().any(|f| {
            std::fs::read(data.join(f))
                .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
    } else {
        let mut c = pg(data);
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM blobs WHERE position($1::bytea in data) > 0",
                &[&needle.as_bytes()],
            )
            .unwrap()
            .get(0);
        n > 0
    }
}

fn pg(data: &Path) -> postgres::Client {
    let url = std::fs::read_to_string(data.join("database")).unwrap();
    postgres::Client::connect(url.trim(), postgres::NoTls).unwrap()
}

fn delete_blob_behind_brigs_back(data: &Path, index: u64, part: &str) {
    if backend() == "sqlite" {
        db(data)
            .execute(
                "DELETE FROM blobs WHERE idx = ?1 AND part = ?2",
                rusqlite::params![index as i64, part],
            )
            .unwrap();
    } else {
        pg(data)
            .execute(
                "DELETE FROM blobs WHERE idx = $1 AND part = $2",
                &[&(index as i64), &part],
            )
            .unwrap();
    }
}

#[test]
fn secrets_are_withheld_redacted_and_erasable() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let vkey: PathBuf = data.join("keys/ledger.vkey");
    ingest(&data, tmp.path(), "events.jsonl", &events());
    let evs = ids(&data);
    let (call_idx, call_id, call) = evs[0].clone();
    let (result_idx, _, result) = evs[1].clone();
    // The leaf records which parts hold which kinds, never the values.
    assert_eq!(
        call["secrets"],
        json!({"arguments": ["aws-access-key-id", "aws-secret-access-key", "bearer-token"]})
    );
    assert_eq!(
        result["secrets"],
        json!({"result": ["github-token", "password-field", "private-key"]})
    );
    assert!(
        evs[2].2.get("secrets").is_none(),
        "no finding in the benign call"
    );

    // Default export: readable files clean, secret payloads withheld, verify passes.
    let plain = tmp.path().join("plain.tar");
    let s = export(&data, &plain, &[]);
    assert_eq!(s["withheld"], 2, "{s}");
    let files = files_of(&plain);
    let mut readable = 0;
    for (path, bytes) in &files {
        if path.starts_with("ledger/events/") {
            continue; // the exact leaves: a target's URL password is in the hashed bytes
        }
        let text = String::from_utf8_lossy(bytes);
        for v in VALUES {
            assert!(!text.contains(v), "{path} holds the secret {v}");
        }
        readable += usize::from(path.starts_with("sessions/") || path.starts_with("timeline/"));
    }
    assert!(readable >= 4, "sessions and timelines are in the bundle");
    let session = files
        .iter()
        .find(|(p, _)| p == "sessions/s-secrets.json")
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .unwrap();
    for kind in [
        "aws-access-key-id",
        "bearer-token",
        "github-token",
        "password-field",
    ] {
        assert!(
            session.contains(&format!("[REDACTED {kind}]")),
            "{kind}: {session}"
        );
    }
    let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert!(!names.contains(&format!("payloads/{call_idx}/arguments.salted").as_str()));
    assert!(!names.contains(&format!("payloads/{result_idx}/result.salted").as_str()));
    assert!(names.contains(&"payloads/2/arguments.salted"), "{names:?}");
    let v = verify_bundle(&plain, &vkey);
    let withheld: Vec<(u64, String)> = v["withheld"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["event"].as_u64().unwrap(),
                w["part"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        withheld,
        [
            (call_idx, "arguments".to_string()),
            (result_idx, "result".to_string())
        ]
    );
    assert_eq!(v["checked"]["payloads"], 1);

    // --include-secrets: the raw payloads are in, bound by their digests, and the ledger
    // records who asked.
    let full = tmp.path().join("full.tar");
    let s = export(&data, &full, &["--include-secrets"]);
    assert_eq!(s["withheld"], 0, "{s}");
    let raw = files_of(&full)
        .into_iter()
        .find(|(p, _)| *p == format!("payloads/{call_idx}/arguments.salted"))
        .expect("the call's raw payload is in the bundle")
        .1;
    assert!(String::from_utf8_lossy(&raw).contains(AWS_ID));
    let v = verify_bundle(&full, &vkey);
    assert_eq!(v["checked"]["payloads"], 3, "every payload bound: {v}");
    assert_eq!(v["withheld"], json!([]));
    let recorded = ids(&data)
        .into_iter()
        .filter(|(_, _, e)| e["attrs"]["action"] == "evidence.include_secrets")
        .map(|(_, _, e)| e["attrs"]["actor"].clone())
        .collect::<Vec<_>>();
    assert_eq!(recorded, [json!("alice")]);

    // Erase the call's arguments.
    assert!(
        store_holds(&data, AWS_ID),
        "the blob is stored before the erase"
    );
    let o = run(
        &data,
        &[
            "ledger",
            "erase",
            "--event",
            &call_id,
            "--reason",
            "leaked AWS key, ticket SEC-12",
            "--actor",
            "bob",
            "--json",
        ],
    );
    assert!(o.status.success(), "erase: {}", stderr(&o));
    let e = json_of(&o);
    assert_eq!(e["parts"][0]["part"], "arguments");
    assert_eq!(e["parts"][0]["result"], "erased");
    assert_eq!(
        e["parts"][0]["digest"],
        call["payload"]["arguments"]["salted_sha256"]
    );
    let record = e["parts"][0]["record"].as_u64().unwrap();
    assert!(
        !store_holds(&data, AWS_ID),
        "the erased bytes are gone from the store"
    );
    assert!(store_holds(&data, "README.md"), "other payloads stay");
    // Idempotent.
    let o = run(
        &data,
        &[
            "ledger", "erase", "--event", &call_id, "--reason", "again", "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json_of(&o)["parts"][0]["result"], "already erased");
    assert_eq!(json_of(&o)["parts"][0]["record"], record);
    // The erasure is an operator action in the ledger, with who and why.
    let rec = ids(&data)
        .into_iter()
        .find(|(i, _, _)| *i == record)
        .unwrap()
        .2;
    assert_eq!(rec["kind"], "operator.action");
    assert_eq!(rec["attrs"]["action"], "erase");
    assert_eq!(rec["attrs"]["actor"], "bob");
    assert_eq!(rec["attrs"]["event"], call_id.as_str());
    assert_eq!(rec["attrs"]["reason"], "leaked AWS key, ticket SEC-12");

    // verify (and --deep) passes and lists the erasure.
    for deep in [false, true] {
        let mut args = vec!["ledger", "verify", "--json"];
        if deep {
            args.push("--deep");
        }
        let o = run(&data, &args);
        let v = json_of(&o);
        assert_eq!(v["intact"], true, "deep={deep}: {}", v["problems"]);
        assert_eq!(o.status.code(), Some(0));
        let erased = &v["erased"][0];
        assert_eq!(erased["index"], call_idx);
        assert_eq!(erased["part"], "arguments");
        assert_eq!(erased["actor"], "bob");
        assert_eq!(erased["record"], record);
        assert_eq!(erased["pending"], false);
        assert!(erased["at"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
    let o = run(&data, &["ledger", "verify"]);
    assert!(
        stdout(&o).contains(&format!(
            "erased: payload \"arguments\" of event {call_id} (index {call_idx}) by bob"
        )),
        "{}",
        stdout(&o)
    );

    // Export after the erase verifies offline; the payload reads as erased.
    let after = tmp.path().join("after.tar");
    let s = export(&data, &after, &["--include-secrets"]);
    assert_eq!(s["erased"], 1, "{s}");
    let v = verify_bundle(&after, &vkey);
    assert_eq!(v["erased"][0]["event"], call_idx);
    assert_eq!(v["erased"][0]["record"], record);
    assert_eq!(v["erased"][0]["reason"], "leaked AWS key, ticket SEC-12");
    let session = files_of(&after)
        .into_iter()
        .find(|(p, _)| p == "sessions/s-secrets.json")
        .map(|(_, b)| serde_json::from_slice::<Value>(&b).unwrap())
        .unwrap();
    assert_eq!(
        session["tool_calls"][0]["arguments"]["erased"]["by"], "bob",
        "{session}"
    );

    // A blob missing without an erasure is damage.
    delete_blob_behind_brigs_back(&data, result_idx, "result");
    let o = run(&data, &["ledger", "verify", "--deep", "--json"]);
    assert_eq!(o.status.code(), Some(4), "{}", stdout(&o));
    let v = json_of(&o);
    assert_eq!(v["first_bad_index"], result_idx);
    assert!(
        v["problems"].to_string().contains("no erasure is recorded"),
        "{v}"
    );
    // And erase refuses to launder it.
    let o = run(
        &data,
        &[
            "ledger", "erase", "--event", &evs[1].1, "--reason", "cover up",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no erasure recorded"), "{}", stderr(&o));
}

#[test]
fn erase_refuses_what_it_cannot_do() {
    let tmp = tempdir();
    let data = init(tmp.path());
    ingest(&data, tmp.path(), "events.jsonl", &events());
    let id = ids(&data)[0].1.clone();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--event",
                "01a24600-0000-7000-8000-000000000000",
                "--reason",
                "x",
            ],
            "no event with id 01a24600-0000-7000-8000-000000000000",
        ),
        (
            &["--event", "not-an-id", "--reason", "x"],
            "is not an event id",
        ),
        (&["--event", &id, "--reason", "  "], "--reason must say why"),
        (
            &["--event", &id, "--reason", "x", "--part", "result"],
            "has no payload part \"result\"; its parts: arguments",
        ),
        (
            &["--event", &id, "--reason", &format!("leaked {AWS_ID}")],
            "looks like a secret",
        ),
    ];
    for (args, says) in cases {
        let mut all = vec!["ledger", "erase"];
        all.extend(*args);
        let o = run(&data, &all);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    let o = run(&data, &["ledger", "erase", "--event", &id]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "--reason is required: {}",
        stderr(&o)
    );
    // Nothing was recorded or deleted by the refusals.
    assert_eq!(ids(&data).len(), 3);
    let o = run(&data, &["ledger", "verify", "--deep", "--json"]);
    assert_eq!(json_of(&o)["erased"], json!([]));
}

/// An erase interrupted between its two steps (record durable, bytes not yet deleted) is
/// listed as pending by verify and finished by running the same command again. The state
/// is made by putting the blob row back after a completed erase (what the store would hold
/// had the process died after the append).
#[test]
fn an_interrupted_erase_is_pending_then_completed() {
    if sqlite_only("puts a blob row back through SQLite") {
        return;
    }
    let tmp = tempdir();
    let data = init(tmp.path());
    ingest(&data, tmp.path(), "events.jsonl", &events());
    let id = ids(&data)[0].1.clone();
    let row: (Vec<u8>, Vec<u8>, Vec<u8>) = db(&data)
        .query_row(
            "SELECT digest, salt, data FROM blobs WHERE idx = 0 AND part = 'arguments'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let o = run(&data, &["ledger", "erase", "--event", &id, "--reason", "r"]);
    assert!(o.status.success(), "{}", stderr(&o));
    db(&data)
        .execute(
            "INSERT INTO blobs (idx, part, digest, salt, data) VALUES (0, 'arguments', ?1, ?2, ?3)",
            rusqlite::params![row.0, row.1, row.2],
        )
        .unwrap();
    let v = json_of(&run(&data, &["ledger", "verify", "--deep", "--json"]));
    assert_eq!(v["intact"], true, "{v}");
    assert_eq!(v["erased"][0]["pending"], true, "{v}");
    let o = run(&data, &["ledger", "verify"]);
    assert!(stdout(&o).contains("PENDING"), "{}", stdout(&o));
    let o = run(
        &data,
        &["ledger", "erase", "--event", &id, "--reason", "r", "--json"],
    );
    assert_eq!(json_of(&o)["parts"][0]["result"], "completed");
    let v = json_of(&run(&data, &["ledger", "verify", "--deep", "--json"]));
    assert_eq!(v["erased"][0]["pending"], false, "{v}");
    assert_eq!(
        v["erased"].as_array().unwrap().len(),
        1,
        "no second record: {v}"
    );
    assert!(!store_holds(&data, AWS_ID));
}

/// `/v1/evidence/export` withholds secret payloads; `include_secrets` is for operators only
/// (an auditor gets 403) and is recorded in the ledger with the token's name.
#[test]
fn the_api_withholds_secrets_unless_an_operator_asks() {
    let tmp = tempdir();
    let data = init(tmp.path());
    ingest(&data, tmp.path(), "events.jsonl", &events());
    let token = |name: &str, role: &str| {
        let o = run(&data, &["tokens", "create", "--name", name, "--role", role]);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o).trim().to_string()
    };
    let (operator, auditor) = (token("ops", "operator"), token("aud", "auditor"));
    let server = Server::start(&data);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let export = |tok: &str, include: bool, out: &Path| -> u16 {
        rt.block_on(async {
            let res = reqwest::Client::new()
                .post(format!("{}/v1/evidence/export", server.base))
                .bearer_auth(tok)
                .json(&json!({"session": "s-secrets", "include_secrets": include}))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            std::fs::write(out, res.bytes().await.unwrap()).unwrap();
            status
        })
    };
    let vkey = data.join("keys/ledger.vkey");
    let plain = tmp.path().join("api-plain.tar");
    assert_eq!(export(&auditor, false, &plain), 200);
    let v = verify_bundle(&plain, &vkey);
    assert_eq!(v["withheld"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(
        export(&auditor, true, &tmp.path().join("refused.tar")),
        403,
        "an auditor may not take raw secrets"
    );
    let full = tmp.path().join("api-full.tar");
    assert_eq!(export(&operator, true, &full), 200);
    let v = verify_bundle(&full, &vkey);
    assert_eq!(v["checked"]["payloads"], 3, "{v}");
    assert!(files_of(&full)
        .iter()
        .any(|(p, b)| p.starts_with("payloads/") && String::from_utf8_lossy(b).contains(AWS_ID)));
    assert!(server.stop().success());
    let who: Vec<Value> = ids(&data)
        .into_iter()
        .filter(|(_, _, e)| e["attrs"]["action"] == "evidence.include_secrets")
        .map(|(_, _, e)| e["attrs"]["actor"].clone())
        .collect();
    assert_eq!(who, [json!("token:ops")]);
}
