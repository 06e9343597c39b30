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
//! 4. *OTLP*: the same 16 agents' GenAI spans (`execute_tool`, each a `tool.call` and a
//!    `tool.result`) posted to `POST /v1/traces` in exports of 500 spans, as OTLP/JSON and as
//!    protobuf, with the built-in rule pack and incident response on (every event observed
//!    in its session); beside it, the very events those spans map to posted to
//!    `/v1/events` (no detection there), and protobuf once more with detection off (what
//!    decoding and mapping cost alone), in the same run on fresh data directories.
//!    `cargo bench -p brig-server --bench api -- EVENTS DECISIONS SPANS` (default 32,000).
//!
//! Each backend runs all of them: SQLite always; PostgreSQL when `BRIG_BENCH_DATABASE` names
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
    let spans = args.get(2).copied().unwrap_or(32_000);

    run("SQLite", None, events, decisions);
    otlp::run("SQLite", None, spans);
    match std::env::var("BRIG_BENCH_DATABASE") {
        Ok(admin) => {
            run("PostgreSQL", Some(&admin), events, decisions);
            otlp::run("PostgreSQL", Some(&admin), spans);
        }
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

/// OTLP ingest with detection on, beside the same events through `/v1/events`.
mod otlp {
    use super::*;
    use brig_detect::otlp as map;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    /// One export: `BATCH` tool spans of `agent`'s session, from span number `first`.
    struct Export {
        json: Vec<u8>,
        protobuf: Vec<u8>,
        /// The events the spans map to, as `/v1/events` takes them.
        events: Value,
    }

    fn attrs(agent: usize, n: usize) -> Vec<(String, String)> {
        vec![
            ("gen_ai.operation.name".into(), "execute_tool".into()),
            ("gen_ai.agent.name".into(), format!("agent-{agent}")),
            ("gen_ai.conversation.id".into(), format!("s{agent}")),
            ("gen_ai.tool.name".into(), "bash".into()),
            ("gen_ai.tool.call.id".into(), n.to_string()),
            (
                "gen_ai.tool.call.arguments".into(),
                json!({"command": format!("echo {agent} {n}")}).to_string(),
            ),
            ("gen_ai.tool.call.result".into(), format!("{agent} {n}")),
        ]
    }

    fn export(agent: usize, first: usize) -> Export {
        let t0 = 1_765_000_000_000_000_000u64;
        let trace = [agent as u8 + 1; 16];
        let spans: Vec<Span> = (first..first + BATCH)
            .map(|n| Span {
                trace_id: trace.to_vec(),
                span_id: (n as u64 + 1).to_be_bytes().to_vec(),
                name: "execute_tool bash".into(),
                start_time_unix_nano: t0 + n as u64 * 1000,
                end_time_unix_nano: t0 + n as u64 * 1000 + 500,
                attributes: attrs(agent, n)
                    .into_iter()
                    .map(|(key, v)| KeyValue {
                        key,
                        value: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(v)),
                        }),
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        let json_spans: Vec<Value> = spans
            .iter()
            .zip(first..)
            .map(|(s, n)| {
                let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
                json!({"traceId": hex(&s.trace_id), "spanId": hex(&s.span_id), "name": s.name,
                       "startTimeUnixNano": s.start_time_unix_nano.to_string(),
                       "endTimeUnixNano": s.end_time_unix_nano.to_string(),
                       "attributes": attrs(agent, n).into_iter()
                           .map(|(k, v)| json!({"key": k, "value": {"stringValue": v}}))
                           .collect::<Vec<_>>()})
            })
            .collect();
        let service = KeyValue {
            key: "service.name".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(format!("agent-{agent}"))),
            }),
        };
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![service],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let doc = json!({"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": format!("agent-{agent}")}}]},
            "scopeSpans": [{"spans": json_spans}]}]});
        // The events are the mapping's own output: the comparison carries the same data.
        let events: Vec<NewEvent> = map::map(&map::from_json(&doc).unwrap()).events().collect();
        Export {
            json: doc.to_string().into_bytes(),
            protobuf: req.encode_to_vec(),
            events: json!({"events": events}),
        }
    }

    /// Posts every client's exports, 16 clients at once; spans/s.
    fn drive(
        rt: &tokio::runtime::Runtime,
        url: &str,
        tokens: &Arc<Vec<String>>,
        exports: &Arc<Vec<Vec<Export>>>,
        body: fn(&Export) -> (&'static str, Vec<u8>),
    ) -> f64 {
        let start = Instant::now();
        rt.block_on(async {
            let client = reqwest::Client::new();
            let tasks: Vec<_> = (0..CLIENTS)
                .map(|a| {
                    let (client, tokens, exports, url) = (
                        client.clone(),
                        tokens.clone(),
                        exports.clone(),
                        url.to_string(),
                    );
                    tokio::spawn(async move {
                        for e in &exports[a] {
                            let (ct, bytes) = body(e);
                            let res = client
                                .post(&url)
                                .bearer_auth(&tokens[a])
                                .header("content-type", ct)
                                .body(bytes)
                                .send()
                                .await
                                .unwrap();
                            let status = res.status();
                            let text = res.bytes().await.unwrap();
                            let head = String::from_utf8_lossy(&text[..text.len().min(300)]);
                            assert!(status.is_success(), "{status} {head}");
                            // Nothing rejected: JSON answers `{}`, protobuf an empty message.
                            let traces = url.ends_with("/v1/traces");
                            assert!(!traces || text.is_empty() || &text[..] == b"{}", "{head}");
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        let spans: usize = exports.iter().map(|e| e.len() * BATCH).sum();
        spans as f64 / start.elapsed().as_secs_f64()
    }

    /// A server on a fresh data directory with the built-in rules and incident response.
    fn server(
        rt: &tokio::runtime::Runtime,
        admin: Option<&str>,
        detect: bool,
    ) -> (String, Arc<Vec<String>>, impl FnOnce(), tempfile::TempDir) {
        let dir = tmp();
        let data = init(&dir.path().join("d"), admin);
        let (detection, response) = if detect {
            let d = brig_gateway::detection::Detection::new(
                &brig_detect::rules::Rules::builtin(),
                None,
                &[],
                Some(&data),
            )
            .unwrap();
            (
                Some(d),
                Some(brig_gateway::response::ResponseConfig::default()),
            )
        } else {
            (None, None)
        };
        let state = brig_server::State::open_with(data, None, detection, response).unwrap();
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
        let handle = rt.handle().clone();
        let stop = move || {
            let _ = stop_tx.send(());
            handle.block_on(server).unwrap().unwrap();
        };
        (base, Arc::new(tokens), stop, dir)
    }

    pub fn run(name: &str, admin: Option<&str>, spans: usize) {
        let per_client = (spans / CLIENTS / BATCH).max(1);
        let exports: Arc<Vec<Vec<Export>>> = Arc::new(
            (0..CLIENTS)
                .map(|a| (0..per_client).map(|b| export(a, b * BATCH)).collect())
                .collect(),
        );
        let events_per_span = exports[0][0].events["events"].as_array().unwrap().len() / BATCH;
        let rt = tokio::runtime::Runtime::new().unwrap();
        let mut rates = Vec::new();
        type Body = fn(&Export) -> (&'static str, Vec<u8>);
        let cases: [(&str, &str, bool, Body); 4] = [
            (
                "native /v1/events, same events, no detection",
                "/v1/events",
                false,
                |e| ("application/json", e.events.to_string().into_bytes()),
            ),
            (
                "OTLP protobuf /v1/traces, detection off",
                "/v1/traces",
                false,
                |e| ("application/x-protobuf", e.protobuf.clone()),
            ),
            (
                "OTLP/JSON /v1/traces, detection on",
                "/v1/traces",
                true,
                |e| ("application/json", e.json.clone()),
            ),
            (
                "OTLP protobuf /v1/traces, detection on",
                "/v1/traces",
                true,
                |e| ("application/x-protobuf", e.protobuf.clone()),
            ),
        ];
        for (what, path, detect, body) in cases {
            let (base, tokens, stop, _dir) = server(&rt, admin, detect);
            let rate = drive(&rt, &format!("{base}{path}"), &tokens, &exports, body);
            // The rule pack's verdict on the load (benign commands; first uses still count).
            let alerts = rt.block_on(async {
                let text = reqwest::get(format!("{base}/metrics"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                text.lines()
                    .find_map(|l| l.strip_prefix("brig_alerts_total "))
                    .map_or(0.0, |v| v.trim().parse::<f64>().unwrap_or(0.0))
            });
            stop();
            rates.push(rate);
            println!(
                "{name}: {what} ({CLIENTS} clients, {BATCH} spans = {} events per request): {rate:>8.0} spans/s ({:.0} events/s, {:.0}% of native), {alerts} alerts",
                BATCH * events_per_span,
                rate * events_per_span as f64,
                100.0 * rate / rates[0]
            );
        }
    }
}
