//! `brig siem`: forwarding to local receivers started here (files, syslog over UDP, TCP and
//! TLS, an HEC-compatible and a generic HTTP collector), including a receiver that is down
//! for a while, one that fails with 500 and one that rejects with 400. Events come from real
//! commands (`brig ingest`, `brig report-incident`). Every receiver stops by itself.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{init, run, stderr, stdout};
use serde_json::{json, Value};

/// How long any receiver lives, whatever happens.
const RECEIVER_LIFE: Duration = Duration::from_secs(60);

/// `n` alerts with a tool call before each (calls are not forwarded by default).
fn alert_lines(n: usize, from: usize) -> Vec<String> {
    let levels = ["low", "medium", "high", "critical"];
    let mut out = Vec::new();
    for i in from..from + n {
        let session = format!("s{}", i / 10);
        out.push(
            json!({
                "source": "test", "agent": "billing-bot", "session": session, "kind": "tool.call",
                "tool": "send_email", "call": i.to_string(),
                "actions": [{"action": "file.read", "target": format!("/data/customers-{i}.csv")}],
            })
            .to_string(),
        );
        out.push(json!({
            "source": "test", "agent": "billing-bot", "session": session, "kind": "alert",
            "call": i.to_string(),
            "attrs": {"rule": "mail-to-personal", "title": format!("customer data mailed out #{i}"),
                      "level": levels[i % levels.len()]},
        }).to_string());
    }
    out
}

/// A data directory with `n` alerts and one person's report (an incident with its
/// transitions and response actions).
fn setup(tmp: &Path, n: usize) -> PathBuf {
    let data = init(tmp);
    common::ingest(&data, tmp, "alerts.jsonl", &alert_lines(n, 0));
    report(&data);
    data
}

fn report(data: &Path) {
    let o = run(
        data,
        &[
            "report-incident",
            "--agent",
            "billing-bot",
            "--summary",
            "mailed the customer list to a gmail address",
            "--severity",
            "security_incident",
            "--resource",
            "/data/customers.csv",
            "--happened",
            "copied",
        ],
    );
    assert!(o.status.success(), "report-incident: {}", stderr(&o));
}

/// `brig siem forward --once` to `to`.
fn forward(data: &Path, to: &str, extra: &[&str]) -> Output {
    // --retry-for: a test never waits forever on a receiver that is gone.
    let mut args = vec![
        "siem",
        "forward",
        "--to",
        to,
        "--once",
        "--max-backoff",
        "1",
    ];
    if !extra.contains(&"--retry-for") {
        args.extend(["--retry-for", "20"]);
    }
    args.extend_from_slice(extra);
    run(data, &args)
}

fn status(data: &Path) -> Value {
    let o = run(data, &["siem", "status", "--json"]);
    assert!(o.status.success(), "status: {}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

fn sink_status(data: &Path, name: &str) -> Value {
    let s = status(data);
    s["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no sink {name} in {s}"))
}

/// What every OCSF record is keyed by: (ledger index, metadata.uid).
fn key(o: &Value) -> (u64, String) {
    (
        o["metadata"]["sequence"].as_u64().unwrap_or(u64::MAX),
        o["metadata"]["uid"].as_str().unwrap().to_string(),
    )
}

/// The records a file sink got, oldest file first.
fn file_records(path: &Path, keep: usize) -> Vec<Value> {
    let mut files: Vec<PathBuf> = (1..=keep)
        .rev()
        .map(|n| PathBuf::from(format!("{}.{n}", path.display())))
        .collect();
    files.push(path.to_path_buf());
    let mut out = Vec::new();
    for f in files.into_iter().filter(|f| f.exists()) {
        for line in std::fs::read_to_string(&f).unwrap().lines() {
            out.push(serde_json::from_str(line).expect("each line is JSON"));
        }
    }
    out
}

#[test]
fn file_sink_rotates_by_size_and_forwards_alerts_and_incidents_once() {
    let tmp = common::tempdir();
    let data = setup(tmp.path(), 40);
    let out = tmp.path().join("ocsf.jsonl");
    let sink = format!("file:{}", out.display());
    let o = forward(
        &data,
        &sink,
        &[
            "--name",
            "file",
            "--rotate-bytes",
            "6000",
            "--keep",
            "100",
            "--batch",
            "7",
        ],
    );
    assert!(o.status.success(), "forward: {}", stderr(&o));
    let recs = file_records(&out, 100);
    let alerts: Vec<_> = recs.iter().filter(|r| r["class_uid"] == 2004).collect();
    let incidents: Vec<_> = recs.iter().filter(|r| r["class_uid"] == 2005).collect();
    assert_eq!(alerts.len(), 40, "every alert, no call");
    assert!(!incidents.is_empty(), "the reported incident's state");
    assert!(recs
        .iter()
        .all(|r| matches!(r["class_uid"].as_u64(), Some(2004 | 2005))));
    // Alerts in ledger order, each once: the odd indices 1, 3, …, 79.
    let seqs: Vec<u64> = alerts
        .iter()
        .map(|a| a["metadata"]["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..40).map(|i| 2 * i + 1).collect::<Vec<_>>());
    assert_eq!(
        alerts[0]["finding_info"]["title"],
        "customer data mailed out #0"
    );
    // Rotation: several files, none over the limit (no single batch is that big).
    let rotated = (1..=100)
        .filter(|n| PathBuf::from(format!("{}.{n}", out.display())).exists())
        .count();
    assert!(rotated >= 2, "rotated {rotated} times");
    for n in 1..=rotated {
        let len = std::fs::metadata(format!("{}.{n}", out.display()))
            .unwrap()
            .len();
        assert!(len <= 6000, "file .{n} is {len} bytes");
    }
    let st = sink_status(&data, "file");
    assert_eq!(st["lag"], 0);
    assert_eq!(st["cursor"], st["ledger_size"]);
    // Nothing new: a second run sends nothing.
    let before = file_records(&out, 100).len();
    let o = forward(&data, &sink, &["--name", "file", "--json"]);
    assert!(o.status.success());
    let summary: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(summary["outcome"]["records_sent"], 0);
    assert_eq!(file_records(&out, 100).len(), before);
    // New alerts: only they are sent.
    common::ingest(&data, tmp.path(), "more.jsonl", &alert_lines(3, 100));
    let o = forward(&data, &sink, &["--name", "file"]);
    assert!(o.status.success());
    assert_eq!(file_records(&out, 100).len(), before + 3);

    // One cursor, one sink: another sink under the same name is refused.
    let o = forward(&data, "file:/dev/null", &["--name", "file"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("belongs to the sink"), "{}", stderr(&o));

    // --keep 2: older files are removed; --all also sends the calls (API Activity).
    let small = tmp.path().join("small.jsonl");
    let o = forward(
        &data,
        &format!("file:{}", small.display()),
        &[
            "--all",
            "--rotate-bytes",
            "3000",
            "--keep",
            "2",
            "--batch",
            "5",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(PathBuf::from(format!("{}.2", small.display())).exists());
    assert!(!PathBuf::from(format!("{}.3", small.display())).exists());
    let all = file_records(&small, 2);
    assert!(
        all.iter().any(|r| r["class_uid"] == 6003),
        "calls with --all"
    );
}

/// An RFC 5424 message, split into its fields.
#[derive(Debug)]
struct Syslog {
    pri: u64,
    version: String,
    timestamp: String,
    hostname: String,
    app: String,
    msgid: String,
    index: u64,
    event: String,
    msg: Value,
}

fn parse_5424(m: &str) -> Syslog {
    let (pri, rest) = m.strip_prefix('<').unwrap().split_once('>').unwrap();
    let mut f = rest.splitn(7, ' ');
    let version = f.next().unwrap().to_string();
    let timestamp = f.next().unwrap().to_string();
    let hostname = f.next().unwrap().to_string();
    let app = f.next().unwrap().to_string();
    let _procid = f.next().unwrap();
    let msgid = f.next().unwrap().to_string();
    let rest = f.next().unwrap();
    let (sd, msg) = rest.split_once("] ").unwrap();
    let sd = sd.strip_prefix("[brig@32473 ").expect("Brig's SD element");
    let param = |name: &str| {
        let start = sd.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        sd[start..].split('"').next().unwrap().to_string()
    };
    Syslog {
        pri: pri.parse().unwrap(),
        version,
        timestamp,
        hostname,
        app,
        msgid,
        index: param("index").parse().unwrap(),
        event: param("event"),
        msg: serde_json::from_str(msg).expect("MSG is the OCSF JSON"),
    }
}

fn check_syslog(msgs: &[Syslog]) {
    let alerts: Vec<_> = msgs.iter().filter(|m| m.msgid == "alert").collect();
    assert_eq!(alerts.len(), 12);
    for m in msgs {
        assert_eq!(m.version, "1");
        assert_eq!(m.app, "brig");
        assert_eq!(m.hostname, "brig-test-host");
        assert!(
            m.timestamp.ends_with('Z') && m.timestamp.contains('T'),
            "{}",
            m.timestamp
        );
        assert_eq!(m.pri / 8, 13, "facility log audit");
        let sev = m.msg["severity_id"].as_u64().unwrap();
        let expected = match sev {
            2 => 5,
            3 => 4,
            4 => 3,
            5 => 2,
            _ => 6,
        };
        assert_eq!(m.pri % 8, expected, "severity of OCSF {sev}");
        if m.msgid == "alert" {
            assert_eq!(m.msg["class_uid"], 2004);
            assert_eq!(m.msg["metadata"]["sequence"], m.index);
            assert_eq!(m.msg["metadata"]["original_event_uid"], m.event.as_str());
        } else {
            assert!(
                ["incident.transition", "response.action"].contains(&m.msgid.as_str()),
                "{}",
                m.msgid
            );
            assert_eq!(m.msg["class_uid"], 2005);
        }
    }
    let idx: Vec<u64> = alerts.iter().map(|m| m.index).collect();
    assert_eq!(idx, (0..12).map(|i| 2 * i + 1).collect::<Vec<_>>());
}

/// Reads RFC 6587 octet-counted frames until `want` or the stream ends.
fn read_frames(r: &mut impl Read, want: usize) -> Vec<String> {
    let mut r = BufReader::new(r);
    let mut out = Vec::new();
    while out.len() < want {
        let mut len = Vec::new();
        if r.read_until(b' ', &mut len).unwrap_or(0) == 0 {
            break;
        }
        let n: usize = std::str::from_utf8(&len[..len.len() - 1])
            .unwrap()
            .parse()
            .unwrap();
        let mut buf = vec![0; n];
        r.read_exact(&mut buf).unwrap();
        out.push(String::from_utf8(buf).unwrap());
    }
    out
}

#[test]
fn syslog_over_udp_and_tcp_carries_rfc5424_messages() {
    let tmp = common::tempdir();
    let data = setup(tmp.path(), 12);
    // The number of records, from a file sink (the same selection).
    let count_file = tmp.path().join("count.jsonl");
    // Incidents are sent once per batch that changes them: count with the same batches.
    let batch = ["--batch", "4"];
    assert!(
        forward(&data, &format!("file:{}", count_file.display()), &batch)
            .status
            .success()
    );
    let want = file_records(&count_file, 0).len();

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let port = udp.local_addr().unwrap().port();
    let got = std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut buf = vec![0; 70_000];
        while out.len() < want {
            let Ok(n) = udp.recv(&mut buf) else { break };
            out.push(String::from_utf8(buf[..n].to_vec()).unwrap());
        }
        out
    });
    let o = forward(
        &data,
        &format!("syslog+udp://127.0.0.1:{port}"),
        &["--hostname", "brig-test-host", "--batch", "4"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let msgs: Vec<Syslog> = got.join().unwrap().iter().map(|m| parse_5424(m)).collect();
    assert_eq!(msgs.len(), want);
    check_syslog(&msgs);

    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let got = std::thread::spawn(move || {
        let (mut s, _) = tcp.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        read_frames(&mut s, want)
    });
    let o = forward(
        &data,
        &format!("syslog+tcp://127.0.0.1:{port}"),
        &["--hostname", "brig-test-host", "--batch", "4"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let msgs: Vec<Syslog> = got.join().unwrap().iter().map(|m| parse_5424(m)).collect();
    assert_eq!(msgs.len(), want);
    check_syslog(&msgs);
}

#[test]
fn syslog_over_tls_checks_the_server_certificate() {
    let tmp = common::tempdir();
    let data = setup(tmp.path(), 12);
    let count_file = tmp.path().join("count.jsonl");
    // Incidents are sent once per batch that changes them: count with the same batches.
    let batch = ["--batch", "4"];
    assert!(
        forward(&data, &format!("file:{}", count_file.display()), &batch)
            .status
            .success()
    );
    let want = file_records(&count_file, 0).len();

    // A throwaway CA and a certificate for localhost and 127.0.0.1 signed by it.
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let ca_file = tmp.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    // Without --ca, the system roots do not know this CA: the handshake fails, said so.
    let server = {
        let config = config.clone();
        let listener = listener.try_clone().unwrap();
        std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let conn = rustls::ServerConnection::new(config).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, s);
            let mut buf = [0u8; 16];
            let _ = tls.read(&mut buf);
        })
    };
    let o = forward(
        &data,
        &format!("syslog+tls://localhost:{port}"),
        &["--name", "untrusted", "--retry-for", "0"],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("certificate"), "{}", stderr(&o));
    server.join().unwrap();
    assert_eq!(sink_status(&data, "untrusted")["cursor"], 0);

    let got = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, s);
        read_frames(&mut tls, want)
    });
    let o = forward(
        &data,
        &format!("syslog+tls://localhost:{port}"),
        &[
            "--ca",
            ca_file.to_str().unwrap(),
            "--hostname",
            "brig-test-host",
            "--batch",
            "4",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let msgs: Vec<Syslog> = got.join().unwrap().iter().map(|m| parse_5424(m)).collect();
    assert_eq!(msgs.len(), want);
    check_syslog(&msgs);
}

/// One request an HTTP receiver got.
#[derive(Clone, Debug)]
struct Request {
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

/// A small HTTP/1.1 collector on `listener`: answers request n (from 0) with `answer(n)`,
/// one request per connection; stops after `RECEIVER_LIFE` or when `done` is set.
struct Collector {
    got: Arc<Mutex<Vec<Request>>>,
    done: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    fn start(
        listener: TcpListener,
        answer: impl Fn(usize) -> (u16, &'static str) + Send + 'static,
    ) -> Collector {
        let got = Arc::new(Mutex::new(Vec::new()));
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (g, d) = (got.clone(), done.clone());
        listener.set_nonblocking(true).unwrap();
        let thread = std::thread::spawn(move || {
            let until = Instant::now() + RECEIVER_LIFE;
            let mut n = 0;
            while Instant::now() < until && !d.load(std::sync::atomic::Ordering::SeqCst) {
                match listener.accept() {
                    Ok((s, _)) => {
                        if let Some(req) = read_request(s, &answer, n) {
                            g.lock().unwrap().push(req);
                            n += 1;
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Collector {
            got,
            done,
            thread: Some(thread),
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.got.lock().unwrap().clone()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_request(
    mut s: TcpStream,
    answer: &impl Fn(usize) -> (u16, &'static str),
    n: usize,
) -> Option<Request> {
    s.set_nonblocking(false).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    let (status, text) = answer(n);
    let reply = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    s.write_all(reply.as_bytes()).ok()?;
    Some(Request {
        path,
        headers,
        body,
    })
}

fn free_listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

#[test]
fn hec_collector_gets_envelopes_with_the_token() {
    let tmp = common::tempdir();
    let data = setup(tmp.path(), 9);
    let listener = free_listener();
    let port = listener.local_addr().unwrap().port();
    let hec = Collector::start(listener, |_| (200, r#"{"text":"Success","code":0}"#));
    let token = tmp.path().join("hec.token");
    std::fs::write(&token, "11111111-2222-3333-4444-555555555555\n").unwrap();
    let o = forward(
        &data,
        &format!("hec+http://127.0.0.1:{port}/services/collector/event"),
        &[
            "--token-file",
            token.to_str().unwrap(),
            "--hostname",
            "brig-test-host",
            "--batch",
            "6",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let reqs = hec.requests();
    assert!(
        reqs.len() >= 2,
        "batches of 6 ledger events: several requests"
    );
    let mut events = Vec::new();
    for r in &reqs {
        assert_eq!(r.path, "/services/collector/event");
        assert_eq!(
            r.headers["authorization"],
            "Splunk 11111111-2222-3333-4444-555555555555"
        );
        // HEC's batch: envelopes concatenated.
        for env in serde_json::Deserializer::from_slice(&r.body).into_iter::<Value>() {
            let env = env.expect("each envelope is JSON");
            let mut keys: Vec<&str> = env
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.as_str())
                .collect();
            keys.sort();
            assert_eq!(keys, ["event", "host", "source", "sourcetype", "time"]);
            assert_eq!(env["source"], "brig");
            assert_eq!(env["sourcetype"], "ocsf");
            assert_eq!(env["host"], "brig-test-host");
            let ms = env["event"]["time"].as_u64().unwrap();
            let secs = env["time"].as_f64().unwrap();
            assert!((secs * 1000.0 - ms as f64).abs() < 2.0, "{secs} vs {ms}");
            events.push(env["event"].clone());
        }
    }
    let alerts: Vec<u64> = events
        .iter()
        .filter(|e| e["class_uid"] == 2004)
        .map(|e| e["metadata"]["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(alerts, (0..9).map(|i| 2 * i + 1).collect::<Vec<_>>());
    assert!(events.iter().any(|e| e["class_uid"] == 2005));
}

/// A port nothing listens on yet (bound, then released for the receiver to take later).
fn reserved_port() -> u16 {
    free_listener().local_addr().unwrap().port()
}

fn start_follow(data: &Path, to: &str, name: &str) -> Child {
    common::brig()
        .args(["siem", "forward", "--to", to, "--name", name, "--follow"])
        .args(["--max-backoff", "1", "--batch", "5", "--data"])
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

/// Every OCSF object a generic collector got, in arrival order.
fn generic_records(c: &Collector) -> Vec<Value> {
    c.requests()
        .iter()
        .flat_map(|r| {
            let v: Value = serde_json::from_slice(&r.body).expect("a JSON array per batch");
            v.as_array().unwrap().clone()
        })
        .collect()
}

fn stop(mut child: Child) -> String {
    // SAFETY: std can only SIGKILL a child; kill(2) on the pid of `child`, which is not
    // reaped before its wait below, so the pid cannot name another process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            assert!(status.success(), "forwarder exit {status}: {err}");
            return err;
        }
        assert!(
            Instant::now() < until,
            "the forwarder did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_collector_down_for_a_while_gets_every_event_exactly_once_in_order() {
    let tmp = common::tempdir();
    let data = init(tmp.path());
    let port = reserved_port();
    let child = start_follow(&data, &format!("http://127.0.0.1:{port}/ocsf"), "later");
    // Events while nobody listens.
    common::ingest(&data, tmp.path(), "a.jsonl", &alert_lines(15, 0));
    report(&data);
    common::ingest(&data, tmp.path(), "b.jsonl", &alert_lines(15, 15));
    std::thread::sleep(Duration::from_secs(2));
    let lagging = sink_status(&data, "later");
    assert_eq!(lagging["cursor"], 0, "nothing acknowledged while down");
    assert!(lagging["lag"].as_u64().unwrap() > 60);

    let c = Collector::start(TcpListener::bind(("127.0.0.1", port)).unwrap(), |_| {
        (200, "{}")
    });
    wait_for("the lag to reach 0", || {
        sink_status(&data, "later")["lag"] == 0
    });
    // Followed: a later alert arrives too.
    common::ingest(&data, tmp.path(), "c.jsonl", &alert_lines(1, 30));
    wait_for("the last alert", || {
        generic_records(&c)
            .iter()
            .filter(|r| r["class_uid"] == 2004)
            .count()
            == 31
    });
    let err = stop(child);
    assert!(err.contains("retrying"), "the outage is logged: {err}");

    let recs = generic_records(&c);
    let keys: Vec<_> = recs.iter().map(key).collect();
    let mut unique = keys.clone();
    unique.dedup();
    assert_eq!(keys, unique, "no record twice");
    let alerts: Vec<u64> = recs
        .iter()
        .filter(|r| r["class_uid"] == 2004)
        .map(|r| r["metadata"]["sequence"].as_u64().unwrap())
        .collect();
    let mut sorted = alerts.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(alerts, sorted, "in ledger order, once each");
    assert_eq!(alerts.len(), 31);
    assert!(recs.iter().any(|r| r["class_uid"] == 2005), "the incident");
    assert_eq!(sink_status(&data, "later")["lag"], 0);
}

#[test]
fn server_errors_are_retried_until_accepted() {
    let tmp = common::tempdir();
    let data = setup(tmp.path(), 5);
    let listener = free_listener();
    let port = listener.local_addr().unwrap().port();
    let c = Collector::start(
        listener,
        |n| {
            if n < 3 {
                (500, "busy")
            } else {
                (200, "{}")
            }
        },
    );
    let o = forward(
        &data,
        &format!("http://127.0.0.1:{port}/x"),
        &["--name", "busy", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(out["outcome"]["retries"], 3);
    assert!(stderr(&o).contains("HTTP 500"), "{}", stderr(&o));
    let reqs = c.requests();
    assert_eq!(reqs.len(), 4);
    assert!(
        reqs.iter().all(|r| r.body == reqs[0].body),
        "the same batch each time"
    );
    assert_eq!(sink_status(&data, "busy")["lag"], 0);
}

#[test]
fn a_rejected_batch_stops_with_the_cursor_unmoved_unless_skipped() {
    let tmp = common::tempdir();
    let data = setup(tmp.path(), 5);
    let listener = free_listener();
    let port = listener.local_addr().unwrap().port();
    let _c = Collector::start(listener, |_| {
        (400, r#"{"text":"Invalid data format","code":6}"#)
    });
    let to = format!("hec+http://127.0.0.1:{port}/services/collector/event");
    let o = forward(&data, &to, &["--name", "picky"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("HTTP 400"), "{err}");
    assert!(err.contains("Invalid data format"), "{err}");
    assert!(err.contains("cursor stays at 0"), "{err}");
    let st = sink_status(&data, "picky");
    assert_eq!(st["cursor"], 0);
    assert_eq!(st["lag"], st["ledger_size"]);

    let o = forward(
        &data,
        &to,
        &["--name", "picky", "--skip-rejected", "--batch", "4"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("skipped"), "{}", stderr(&o));
    let st = sink_status(&data, "picky");
    assert_eq!(st["lag"], 0);
    assert!(st["skipped"].as_u64().unwrap() > 0);
    let skipped = std::fs::read_to_string(data.join("siem/picky.skipped")).unwrap();
    let first: Value = serde_json::from_str(skipped.lines().next().unwrap()).unwrap();
    assert_eq!(first["from"], 0);
    assert!(first["reason"].as_str().unwrap().contains("HTTP 400"));
}

#[test]
fn brig_serve_runs_forwarders_beside_the_api() {
    let tmp = common::tempdir();
    let data = init(tmp.path());
    let out = tmp.path().join("serve.jsonl");
    let sink = format!("file:{}", out.display());
    let child = common::brig()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--siem",
            &sink,
            "--data",
        ])
        .arg(&data)
        .env("BRIG_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    common::ingest(&data, tmp.path(), "a.jsonl", &alert_lines(10, 0));
    report(&data);
    wait_for("the alerts and the incident in the file", || {
        let recs = if out.exists() {
            file_records(&out, 0)
        } else {
            Vec::new()
        };
        recs.iter().filter(|r| r["class_uid"] == 2004).count() == 10
            && recs.iter().any(|r| r["class_uid"] == 2005)
            && status(&data)["sinks"][0]["lag"] == 0
    });
    let err = stop(child);
    assert!(err.contains("stopped"), "{err}");
    let st = status(&data);
    assert_eq!(st["sinks"].as_array().unwrap().len(), 1);
    assert_eq!(st["sinks"][0]["sink"], sink.as_str());
}
