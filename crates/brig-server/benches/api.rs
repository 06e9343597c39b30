//! The control plane's throughput: ingest over HTTP (batched) and decide requests, beside
//! the backend's raw insert rate measured in the same run.
//!
//! ```sh
//! cargo bench -p brig-server --bench api              # 200,000 events, 20,000 decisions
//! cargo bench -p brig-server --bench api -- 50000 5000
//! BRIG_BENCH_DATABASE=postgres://brig@127.0.0.1:55432/postgres \
//!     cargo bench -p brig-server --bench api            # SQLite, then PostgreSQL
//! ```
//!
//! 1. *Raw*: the same events appended straight to the ledger (`Ledger::append`, batches of
//!    500, one transaction and fsync each) — what the backend can do with no HTTP at all.
//! 2. *Ingest*: 16 clients, each its own agent token, posting batches of 500 events to
//!    `POST /v1/events` of an in-process `brig serve` on loopback.
//! 3. *Decide*: 16 clients asking `POST /v1/decide` one call at a time (closed loop);
//!    latency from send to answer, p50 and p99. Each decision is recorded durably before
//!    it is answered (group commit).
//!
//! Each backend runs all three: SQLite always; PostgreSQL when `BRIG_BENCH_DATABASE` names
//! a server (each phase gets a scratch database on it). The data directories go under
//! `BRIG_BENCH_DIR` (default: the system's temp dir).

use std::sync::Arc;
use std::time::{Duration, Instant};

use brig_ledger::Prepared;
use brig_model::NewEvent;
use serde_json::{json, Value};

const CLIENTS: usize = 16;
const BATCH: usize = 500;

fn event(agent: usize, n: usize) -> Value {
    json!({"source": "bench", "agent": format!("agent-{agent}"), "kind": "tool.call",
           "tool": "bash", "session": format!("s{agent}"), "call": n.to_string(),
           "actions": [{"action": "proc.exec", "target": "echo"}],
           "payload": {"arguments": {"command": format!("echo {agent} {n}")}}})
}

fn tmp() -> tempfile::TempDir {
    match std::env::var_os("BRIG_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

/// A fresh data directory on the backend (`admin`: a PostgreSQL server's URL).
fn init(root: &std::path::Path, admin: Option<&str>) -> brig_store::DataDir {
    let url = admin.map(|a| brig_store::scratch_database(a).unwrap());
    let opts = brig_store::InitOptions {
        database: url.as_deref(),
        ..Default::default()
    };
    brig_store::DataDir::init_with(root, &opts).unwrap().0
}

fn raw(events: usize, admin: Option<&str>) -> f64 {
    let dir = tmp();
    let data = init(&dir.path().join("d"), admin);
    let mut ledger = data.ledger().unwrap();
    let all: Vec<NewEvent> = (0..events)
        .map(|i| serde_json::from_value(event(i % CLIENTS, i)).unwrap())
        .collect();
    let start = Instant::now();
    for chunk in all.chunks(BATCH) {
        let batch: Vec<Prepared> = chunk
            .iter()
            .cloned()
            .map(|e| Prepared::new(e).unwrap())
            .collect();
        ledger.append(&batch).unwrap();
    }
    events as f64 / start.elapsed().as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let events = args.first().copied().unwrap_or(200_000);
    let decisions = args.get(1).copied().unwrap_or(20_000);

    run("SQLite", None, events, decisions);
    match std::env::var("BRIG_BENCH_DATABASE") {
        Ok(admin) => run("PostgreSQL", Some(&admin), events, decisions),
        Err(_) => println!("PostgreSQL: not measured (set BRIG_BENCH_DATABASE to a server's URL)"),
    }
}

fn run(name: &str, admin: Option<&str>, events: usize, decisions: usize) {
    let raw_rate = raw(events, admin);
    println!("{name}: raw ledger append (batches of {BATCH}): {raw_rate:>9.0} events/s");

    let dir = tmp();
    let root = dir.path().join("d");
    let data = init(&root, admin);
    // A policy that allows the benchmark's calls, so decide does the whole path.
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(
        policies.join("allow.cedar"),
        "permit (principal, action, resource);\n",
    )
    .unwrap();
    let state = brig_server::State::open(data, Some(&policies)).unwrap();
    let tokens: Vec<String> = {
        let mut store = state.data.store().unwrap();
        (0..CLIENTS)
            .map(|a| {
                brig_server::auth::create(
                    &mut store,
                    &format!("gw-{a}"),
                    brig_server::auth::Role::Agent,
                    Some(&format!("agent-{a}")),
                    "bench",
                )
                .unwrap()
            })
            .collect()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(brig_server::serve(
        state,
        "127.0.0.1:0".parse().unwrap(),
        async move {
            let _ = stop_rx.await;
        },
        move |a| addr_tx.send(a).unwrap(),
    ));
    let base = format!("http://{}", addr_rx.recv().unwrap());
    let tokens = Arc::new(tokens);

    // Ingest.
    let per_client = events / CLIENTS;
    let start = Instant::now();
    rt.block_on(async {
        let client = reqwest::Client::new();
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|a| {
                let (client, tokens, url) =
                    (client.clone(), tokens.clone(), format!("{base}/v1/events"));
                tokio::spawn(async move {
                    for b in 0..per_client / BATCH {
                        let batch: Vec<Value> =
                            (0..BATCH).map(|i| event(a, b * BATCH + i)).collect();
                        let res = client
                            .post(&url)
                            .bearer_auth(&tokens[a])
                            .json(&json!({"events": batch}))
                            .send()
                            .await
                            .unwrap();
                        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let sent = per_client / BATCH * BATCH * CLIENTS;
    let ingest_rate = sent as f64 / start.elapsed().as_secs_f64();
    println!(
        "{name}: HTTP ingest ({CLIENTS} clients, batches of {BATCH}): {ingest_rate:>9.0} events/s ({:.0}% of raw)",
        100.0 * ingest_rate / raw_rate
    );

    // Decide.
    let per_client = decisions / CLIENTS;
    let start = Instant::now();
    let mut lat: Vec<Duration> = rt.block_on(async {
        let client = reqwest::Client::new();
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|a| {
                let (client, tokens, url) = (client.clone(), tokens.clone(), format!("{base}/v1/decide"));
                tokio::spawn(async move {
                    let mut lat = Vec::with_capacity(per_client);
                    for n in 0..per_client {
                        let t = Instant::now();
                        let res = client
                            .post(&url)
                            .bearer_auth(&tokens[a])
                            .json(&json!({"tool": "bash", "session": format!("s{a}"), "call": n.to_string(),
                                          "arguments": {"command": format!("echo {n}")}}))
                            .send()
                            .await
                            .unwrap();
                        let body: Value = res.json().await.unwrap();
                        assert_eq!(body["effect"], "allow", "{body}");
                        lat.push(t.elapsed());
                    }
                    lat
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    let rate = lat.len() as f64 / start.elapsed().as_secs_f64();
    lat.sort();
    println!(
        "{name}: HTTP decide ({CLIENTS} clients, closed loop): {rate:>9.0} decisions/s, p50 {:.2} ms, p99 {:.2} ms",
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3
    );
    let _ = stop_tx.send(());
    rt.block_on(server).unwrap().unwrap();
}
