//! Alert to containment: how long after a call raises a grave alert is its agent stopped?
//!
//! ```sh
//! cargo bench -p brig-gateway --bench containment              # 1,000 trials
//! BRIG_BENCH_TRIALS=200 cargo bench -p brig-gateway --bench containment
//! ```
//!
//! The data directory goes in the current directory (`BRIG_BENCH_DIR` to choose).
//!
//! Each trial is a new agent whose `write_file` to a path the risk register marks `secrets`
//! goes through the gateway's own code (`call::decide`, the ledger writer, `settle`, the
//! responder), exactly as a proxy runs it, on a fresh data directory (SQLite, WAL, fsync).
//! Measured from the moment the call enters `decide`:
//!
//! - **here**: the offending call is denied and the agent's next call in this gateway is
//!   denied (the proxy holds it at once);
//! - **everywhere**: containment is in the store, where every other gateway sharing the
//!   data directory reads it before each call — after the alert and the call are durable,
//!   the incident is filed, the evidence snapshot is written and a checkpoint signed.
//!
//! Baseline, in the same run: an ordinary allowed call decided and made durable (the
//! write-ahead record every call pays).

use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use brig_gateway::call::{self, Verdict};
use brig_gateway::detection::Detection;
use brig_gateway::guard::{normalizer, Guard};
use brig_gateway::policy::CedarPolicy;
use brig_gateway::record::Recorder;
use brig_gateway::response::{Response, ResponseConfig};
use brig_gateway::Identity;
use brig_ledger::appender::{Appender, Checkpointing};
use brig_model::EventKind;
use brig_store::DataDir;
use serde_json::json;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, v: &mut [f64]) {
    println!(
        "{name:<48} p50 {:>7.3} ms   p99 {:>7.3} ms   max {:>7.3} ms",
        pct(v, 0.50),
        pct(v, 0.99),
        pct(v, 1.0)
    );
}

fn main() {
    let trials: usize = std::env::var("BRIG_BENCH_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let tmp = tempfile::Builder::new()
        .prefix("brig-bench-")
        .tempdir_in(".")
        .unwrap();
    let (dir, _) = DataDir::init(&tmp.path().join("data"), None).unwrap();
    // Canonical: the register's globs are matched against normalized absolute targets.
    let root = tmp.path().canonicalize().unwrap();
    let ws = root.join("ws");
    std::fs::create_dir_all(ws.join("secrets")).unwrap();
    let reg_file = tmp.path().join("brig.toml");
    std::fs::write(
        &reg_file,
        format!(
            "[[resource]]\nname = \"vault\"\npaths = [\"{}/secrets/**\"]\nclasses = [\"secrets\"]\n",
            ws.display()
        ),
    )
    .unwrap();
    let register = Arc::new(brig_register::Register::load(&reg_file).unwrap());
    let appender = Arc::new(Appender::start(
        brig_ledger::Ledger::new(dir.store().unwrap()),
        Some(Checkpointing {
            signer: dir.signer().unwrap(),
            interval: Duration::from_secs(10),
        }),
    ));
    let rules = brig_detect::rules::Rules::builtin();
    let detection = Detection::new(
        &rules,
        Some(register.clone()),
        std::slice::from_ref(&ws),
        Some(&dir),
    )
    .unwrap();
    let config = ResponseConfig {
        register: Some(register),
        policies: None,
    };
    let response = Response::start(&dir, &config, appender.clone()).unwrap();
    let policy = CedarPolicy::load(None, vec![ws.clone()], vec![dir.root().to_path_buf()]).unwrap();
    let mut guard = Guard::new(
        dir.store().unwrap(),
        Box::new(policy),
        normalizer(vec![ws.clone()]),
    );
    let mut observer = dir.store().unwrap();

    let mut baseline = Vec::with_capacity(trials);
    let mut here = Vec::with_capacity(trials);
    let mut everywhere = Vec::with_capacity(trials);
    println!(
        "alert to containment: {trials} trials (one new agent each), data dir on {}",
        tmp.path().display()
    );
    for k in 0..trials {
        let who = Identity {
            agent: format!("agent-{k}"),
            workflow: None,
            task: Some("Tidy the notes".into()),
        };
        let rec = Recorder::new(
            appender.clone(),
            "bench",
            who.agent.clone(),
            None,
            format!("s-{k}"),
        )
        .with_detection(Some(detection.clone()))
        .with_response(Some(response.clone()));
        let mut task = rec.event(EventKind::AgentPrompt);
        task.payload.insert("task".into(), json!("Tidy the notes"));
        rec.record(task);
        // Baseline: an allowed write in the workspace, decided and durable.
        let t = Instant::now();
        let v = run_call(
            &mut guard,
            &who,
            &rec,
            k * 3,
            ws.join(format!("notes-{k}.md")),
        );
        baseline.push(ms(t));
        assert!(
            matches!(v, Verdict::Forward),
            "the baseline call must be allowed: {v:?}"
        );

        // The grave call, then the next one.
        let t = Instant::now();
        let v = run_call(&mut guard, &who, &rec, k * 3 + 1, ws.join("secrets/db.env"));
        assert!(
            matches!(v, Verdict::Refuse(_)),
            "the secrets edit must be refused: {v:?}"
        );
        let v = run_call(
            &mut guard,
            &who,
            &rec,
            k * 3 + 2,
            ws.join(format!("other-{k}.md")),
        );
        assert!(
            matches!(v, Verdict::Refuse(_)),
            "the next call must be refused: {v:?}"
        );
        here.push(ms(t));
        let deadline = Instant::now() + Duration::from_secs(10);
        while observer.containment_of(&who.agent, None).unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "containment never reached the store"
            );
            std::thread::sleep(Duration::from_micros(50));
        }
        everywhere.push(ms(t));
    }
    response.finish();
    report("baseline: allowed call decided + durable", &mut baseline);
    report("here: grave call and next call both denied", &mut here);
    report(
        "everywhere: contained in the store (evidence first)",
        &mut everywhere,
    );
    let incidents = observer.incidents(true, trials * 2).unwrap().len();
    println!("incidents opened: {incidents} (one per agent); goal p99 <= 10 ms for 'everywhere'");
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn run_call(
    guard: &mut Guard,
    who: &Identity,
    rec: &Recorder,
    id: usize,
    path: std::path::PathBuf,
) -> Verdict {
    let args = json!({"path": path, "content": "x\n"});
    let (events, decided) = call::decide(guard, who, rec, &json!(id), "write_file", &args);
    if std::env::var("BRIG_BENCH_DEBUG").is_ok() {
        for e in &events {
            eprintln!("{} {:?} {:?}", e.kind, e.actions, e.attrs.get("rule_id"));
        }
    }
    let (tx, rx) = mpsc::sync_channel(1);
    rec.record_then(events, move |r| {
        let _ = tx.send(decided.settle(r));
    });
    rx.recv().unwrap()
}
