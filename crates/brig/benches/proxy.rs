//! MCP proxy benchmark: a `tools/call` round trip through `brig mcp-proxy` (stdio) against the
//! same call sent straight to the same server, measured in the same run.
//!
//! ```sh
//! cargo bench -p brig --bench proxy                             # the full run (~25 s)
//! BRIG_BENCH_SECS=1 BRIG_BENCH_CALLS=2000 cargo bench -p brig --bench proxy   # quicker
//! cargo bench -p brig --bench proxy -- --secs 5 --rate 1000 --calls 20000
//! ```
//!
//! The upstream is this very program run as `proxy --serve`: a minimal MCP server (the
//! official Rust SDK, `rmcp`, on a single-threaded runtime) with one tool, `echo`, that
//! returns its `text` argument. The client is `rmcp`'s client over a child process' stdio,
//! as an agent's MCP client would be. *direct*: the client starts the server. *proxied*:
//! the client starts `brig mcp-proxy --data DIR --agent bench --policy P -- <this> --serve`,
//! with a policy that allows `echo`; every call is then decided and recorded durably in
//! the ledger (group commit, fsync) before it is forwarded.
//!
//! 1. Open loop: calls sent at a fixed rate on a schedule, whatever the answers do; each
//!    call's latency runs from its *scheduled* send time (no coordinated omission). A
//!    warm-up second first.
//! 2. Maximum throughput: a closed loop keeping W calls in flight (W = 1 and W = 64).
//! 3. Afterwards: the `tool.call` events in the ledger against the calls sent through the
//!    proxy, and `brig ledger verify`.
//! 4. Stages: each step the proxy takes for one call, timed alone in this process (the
//!    gateway's own functions), with a plain-file fsync as the disk's baseline.
//!
//! CPU per call comes from `/proc/self/stat`: the client is this process, the upstream its
//! children (the server, or the proxy and the server it started).
//!
//! Flags (or environment): `--secs S` (`BRIG_BENCH_SECS`, default 5) open-loop duration,
//! `--rate R` (`BRIG_BENCH_RATE`, 1000) calls/s, `--calls N` (`BRIG_BENCH_CALLS`, 20000)
//! calls at W = 64 (N/10 at W = 1). `BRIG_BENCH_DIR`: where the data directory goes
//! (default: the current directory; put it on tmpfs to take the disk out of the figures).
//! `BRIG_BENCH_BRIG`: another `brig` binary to measure (default: this build's).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ErrorData, Peer, RoleClient, RoleServer, ServerHandler, ServiceExt};
use serde_json::{json, Value};

/// The policy the proxied runs use: the benchmark's one tool is allowed. (Brig's built-in
/// policy allows only file and network actions it can place; a tool it cannot normalize is
/// a `tool.call` that no built-in policy permits.)
const POLICY: &str = r#"@id("bench.echo")
permit (principal, action == Action::"tool.call", resource == Tool::"echo");
"#;

struct Args {
    secs: f64,
    rate: u32,
    calls: usize,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn parse_args(args: &[String]) -> Args {
    let mut a = Args {
        secs: env_or("BRIG_BENCH_SECS", 5.0),
        rate: env_or("BRIG_BENCH_RATE", 1000),
        calls: env_or("BRIG_BENCH_CALLS", 20_000),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
                .clone()
        };
        match arg.as_str() {
            "--secs" => a.secs = value("--secs").parse().expect("--secs S"),
            "--rate" => a.rate = value("--rate").parse().expect("--rate R"),
            "--calls" => a.calls = value("--calls").parse().expect("--calls N"),
            "--bench" => {} // passed by `cargo bench`
            other => panic!("unknown argument {other}; use --secs S --rate R --calls N"),
        }
    }
    assert!(a.secs > 0.0 && a.rate > 0 && a.calls > 0);
    a
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--serve") {
        serve();
        return;
    }
    let args = parse_args(&args);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let tmp = tempfile::tempdir_in(std::env::var("BRIG_BENCH_DIR").unwrap_or_else(|_| ".".into()))
        .expect("temp dir");
    let data = tmp.path().join("brig-data");
    let policy = tmp.path().join("policy");
    std::fs::create_dir(&policy).unwrap();
    std::fs::write(policy.join("bench.cedar"), POLICY).unwrap();
    brig_ok(&["init", "--origin", "brig.bench/proxy"], &data);

    let me = std::env::current_exe().expect("own path");
    let direct = Upstream::Direct { exe: me.clone() };
    let proxied = Upstream::Proxied {
        exe: me,
        data: data.clone(),
        policy,
    };

    println!(
        "# brig MCP proxy benchmark ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("# data dir: {}", data.display());
    let mut through_proxy = 0usize;

    // 1. Open loop.
    let n = (args.rate as f64 * args.secs).round() as usize;
    let warm = args.rate as usize; // one second
    let mut open = Vec::new();
    for up in [&direct, &proxied] {
        eprintln!(
            "open loop, {}: {warm} warm-up + {n} calls at {}/s",
            up.name(),
            args.rate
        );
        let client = rt.block_on(up.connect());
        let _ = open_loop(&rt, client.peer(), args.rate, warm, 0);
        let r = open_loop(&rt, client.peer(), args.rate, n, warm);
        rt.block_on(close(client));
        if matches!(up, Upstream::Proxied { .. }) {
            through_proxy += warm + n;
        }
        open.push(r);
    }

    // 2. Closed loop.
    let mut closed = Vec::new();
    for (w, count) in [(1usize, (args.calls / 10).max(1)), (64, args.calls)] {
        for up in [&direct, &proxied] {
            eprintln!("closed loop, {}: {count} calls, {w} in flight", up.name());
            let before = cpu_times();
            let client = rt.block_on(up.connect());
            let mut r = rt.block_on(closed_loop(client.peer().clone(), w, count));
            rt.block_on(close(client));
            let after = cpu_times();
            r.cpu = Some((after.0 - before.0, after.1 - before.1));
            if matches!(up, Upstream::Proxied { .. }) {
                through_proxy += count;
            }
            closed.push((w, r));
        }
    }

    // 3. The record.
    eprintln!("counting the ledger's tool.call events, verifying the ledger");
    let recorded = count_calls(&data);
    let verify = brig(&["ledger", "verify"], &data);

    report(&args, n, &open, &closed, recorded, through_proxy, &verify);

    // 4. Where a proxied call's time goes, stage by stage, in this process.
    let stages_data = tmp.path().join("stages-data");
    brig_ok(&["init", "--origin", "brig.bench/stages"], &stages_data);
    stages(&stages_data, &tmp.path().join("policy"));
}

// ---------------------------------------------------------------------------------------
// The upstream: a minimal MCP server with one tool.

struct Echo;

impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if request.name != "echo" {
            return Ok(CallToolResult::error(vec![ContentBlock::text("no such tool")]).into());
        }
        let text = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("text"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
    }
}

/// `proxy --serve`: the upstream server on stdio, one thread.
fn serve() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let server = Echo
            .serve(rmcp::transport::stdio_pipes())
            .await
            .expect("MCP initialization");
        let _ = server.waiting().await;
    });
}

// ---------------------------------------------------------------------------------------
// The client.

enum Upstream {
    Direct {
        exe: PathBuf,
    },
    Proxied {
        exe: PathBuf,
        data: PathBuf,
        policy: PathBuf,
    },
}

type Client = RunningService<RoleClient, ()>;

impl Upstream {
    fn name(&self) -> &'static str {
        match self {
            Upstream::Direct { .. } => "direct",
            Upstream::Proxied { .. } => "proxied",
        }
    }

    async fn connect(&self) -> Client {
        let cmd = match self {
            Upstream::Direct { exe } => {
                let mut c = tokio::process::Command::new(exe);
                c.arg("--serve");
                c
            }
            Upstream::Proxied { exe, data, policy } => {
                let mut c = tokio::process::Command::new(brig_exe());
                c.arg("mcp-proxy")
                    .arg("--data")
                    .arg(data)
                    .args(["--agent", "bench", "--policy"])
                    .arg(policy)
                    .arg("--")
                    .arg(exe)
                    .arg("--serve");
                c
            }
        };
        let transport = TokioChildProcess::new(cmd).expect("start the MCP server");
        ().serve(transport).await.expect("MCP initialization")
    }
}

/// Closes stdin and waits for the child (the proxy, or the server) to exit.
async fn close(client: Client) {
    let _ = client.cancel().await;
}

/// Call `i`: echo a short, distinct text.
fn params(i: usize) -> CallToolRequestParams {
    let args = json!({ "text": format!("call {i}: the quick brown fox jumps over the lazy dog") });
    let Value::Object(args) = args else {
        unreachable!()
    };
    CallToolRequestParams::new("echo").with_arguments(args)
}

/// One call; true when the server's echo came back (not an error, not a refusal).
async fn call(peer: &Peer<RoleClient>, i: usize) -> bool {
    match peer.call_tool(params(i)).await {
        Ok(r) => {
            r.is_error != Some(true)
                && r.content
                    .first()
                    .and_then(|c| c.as_text())
                    .is_some_and(|t| t.text.starts_with(&format!("call {i}:")))
        }
        Err(_) => false,
    }
}

struct Latencies {
    /// Sorted.
    all: Vec<Duration>,
    errors: usize,
    /// How late the scheduler itself sent calls (open loop only), worst case.
    worst_send_lag: Duration,
    elapsed: Duration,
    /// CPU time of the client (this process), and of the upstream's processes (the server,
    /// or the proxy and its server), over the run (closed loop only).
    cpu: Option<(Duration, Duration)>,
}

impl Latencies {
    fn new(mut all: Vec<Duration>, errors: usize, elapsed: Duration) -> Self {
        all.sort_unstable();
        Latencies {
            all,
            errors,
            worst_send_lag: Duration::ZERO,
            elapsed,
            cpu: None,
        }
    }

    fn pct(&self, p: f64) -> Duration {
        if self.all.is_empty() {
            return Duration::ZERO;
        }
        let k = ((self.all.len() as f64 * p / 100.0).ceil() as usize).clamp(1, self.all.len());
        self.all[k - 1]
    }

    fn max(&self) -> Duration {
        self.all.last().copied().unwrap_or_default()
    }

    fn rate(&self) -> f64 {
        self.all.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// CPU µs per call: (client, upstream).
    fn cpu_per_call(&self) -> (f64, f64) {
        let (c, u) = self.cpu.unwrap_or_default();
        let n = self.all.len().max(1) as f64;
        (c.as_secs_f64() * 1e6 / n, u.as_secs_f64() * 1e6 / n)
    }
}

/// CPU time used so far by this process, and by its children that have exited and been
/// waited for (their own waited-for children included): /proc/self/stat, 10 ms ticks.
fn cpu_times() -> (Duration, Duration) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the command name (in parentheses, may hold spaces) come fields 3, 4, …;
    // utime, stime, cutime, cstime are fields 14 to 17.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = |i: usize| f.get(i - 3).copied().unwrap_or(0);
    let tick = Duration::from_millis(10);
    (
        tick * (ticks(14) + ticks(15)) as u32,
        tick * (ticks(16) + ticks(17)) as u32,
    )
}

/// Sends `n` calls at `rate`/s on a schedule kept by this (non-runtime) thread, each call
/// its own task; latency from the scheduled send time to the answer.
fn open_loop(
    rt: &tokio::runtime::Runtime,
    peer: &Peer<RoleClient>,
    rate: u32,
    n: usize,
    first: usize,
) -> Latencies {
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let start = Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::with_capacity(n);
    let mut worst_lag = Duration::ZERO;
    for k in 0..n {
        let at = start + interval.mul_f64(k as f64);
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
        worst_lag = worst_lag.max(at.elapsed());
        let peer = peer.clone();
        tasks.push(rt.spawn(async move {
            let ok = call(&peer, first + k).await;
            (at.elapsed(), ok)
        }));
    }
    let results = rt.block_on(async {
        let mut out = Vec::with_capacity(n);
        for t in tasks {
            out.push(t.await.expect("call task"));
        }
        out
    });
    let elapsed = start.elapsed();
    let errors = results.iter().filter(|(_, ok)| !ok).count();
    let mut l = Latencies::new(
        results.into_iter().map(|(d, _)| d).collect(),
        errors,
        elapsed,
    );
    l.worst_send_lag = worst_lag;
    l
}

/// `count` calls with `w` in flight at all times.
async fn closed_loop(peer: Peer<RoleClient>, w: usize, count: usize) -> Latencies {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..w)
        .map(|_| {
            let (peer, next) = (peer.clone(), next.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let t = Instant::now();
                    if !call(&peer, i).await {
                        errors += 1;
                    }
                    lat.push(t.elapsed());
                }
                (lat, errors)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(count);
    let mut errors = 0;
    for w in workers {
        let (lat, e) = w.await.expect("worker");
        all.extend(lat);
        errors += e;
    }
    Latencies::new(all, errors, start.elapsed())
}

// ---------------------------------------------------------------------------------------
// The record.

/// The `brig` under test: this build's, or `BRIG_BENCH_BRIG` (to compare two builds).
fn brig_exe() -> PathBuf {
    std::env::var_os("BRIG_BENCH_BRIG")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_brig")), PathBuf::from)
}

fn brig(args: &[&str], data: &Path) -> std::process::Output {
    Command::new(brig_exe())
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .expect("brig runs")
}

fn brig_ok(args: &[&str], data: &Path) {
    let o = brig(args, data);
    assert!(
        o.status.success(),
        "brig {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The `tool.call` events the ledger holds.
fn count_calls(data: &Path) -> i64 {
    let db = rusqlite::Connection::open(data.join("ledger.db")).expect("ledger.db");
    db.query_row(
        "SELECT count(*) FROM events WHERE kind = 'tool.call' AND agent = 'bench'",
        [],
        |r| r.get(0),
    )
    .expect("count")
}

// ---------------------------------------------------------------------------------------
// Stage by stage.

/// The proxy's work on one call, each stage timed alone on this thread: what
/// `client_to_server` does before the call can go, the durable append the forwarder waits
/// for, and what `server_to_client` does with the answer.
fn stages(data: &Path, policy: &Path) {
    use brig_gateway::guard::{normalizer, Call, Guard, Policy};
    use brig_gateway::jsonrpc::Message;
    use brig_gateway::policy::CedarPolicy;
    use brig_gateway::record::Recorder;
    use brig_gateway::Identity;
    use brig_ledger::appender::Appender;
    use brig_ledger::Prepared;

    eprintln!("timing the proxy's stages in process");
    let dir = brig_store::DataDir::open(data).expect("data dir");
    let owned = vec![data.to_path_buf()];
    let cedar = || CedarPolicy::load(Some(policy), Vec::new(), owned.clone()).expect("policy");
    let mut guard = Guard::new(
        dir.store().unwrap(),
        Box::new(cedar()),
        normalizer(Vec::new()),
    );
    let mut policy_only = cedar();
    let mut store = dir.store().unwrap();
    let appender = Arc::new(Appender::start(
        brig_ledger::Ledger::new(dir.store().unwrap()),
        None,
    ));
    let rec = Recorder::new(
        appender.clone(),
        "mcp-proxy",
        "bench".into(),
        None,
        "s".into(),
    );
    let who = Identity {
        agent: "bench".into(),
        workflow: None,
        task: None,
    };
    let line = |i: usize| {
        json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": params(i)}).to_string()
    };
    let answer = |i: usize| {
        json!({"jsonrpc": "2.0", "id": i, "result": {"content": [{"type": "text",
            "text": format!("call {i}: the quick brown fox jumps over the lazy dog")}]}})
        .to_string()
    };
    let n = 2000;
    println!(
        "\n## where a proxied call's time goes: each stage alone, on one thread of this process"
    );
    println!("| stage | mean µs | p50 µs | p99 µs |");
    println!("|---|---:|---:|---:|");
    time(
        "agent → server: parse the call's line, classify",
        n,
        line,
        |l| {
            let v: Value = serde_json::from_slice(l.as_bytes()).unwrap();
            Message::classify(&v)
        },
    );
    let arguments = json!({"text": "call 1: the quick brown fox jumps over the lazy dog"});
    time(
        "decide: normalize, containment, policy, build 2 events",
        n,
        |i| i,
        |i| brig_gateway::call::decide(&mut guard, &who, &rec, &json!(i), "echo", &arguments),
    );
    time(
        "  of which: containment read (SQLite, one indexed query)",
        n,
        |_| (),
        |()| store.containment_of("bench", None).unwrap(),
    );
    time(
        "  of which: Cedar policy decision",
        n,
        |_| (),
        |()| {
            policy_only.decide(&Call {
                agent: "bench",
                workflow: None,
                task: None,
                tool: "echo",
                arguments: &arguments,
                actions: &[],
            })
        },
    );
    let some_events =
        brig_gateway::call::decide(&mut guard, &who, &rec, &json!(0), "echo", &arguments).0;
    time(
        "prepare the 2 events (canonical JSON, salts, hashes)",
        n,
        |_| some_events.clone(),
        |ev| {
            ev.into_iter()
                .map(|e| Prepared::new(e).unwrap())
                .collect::<Vec<_>>()
        },
    );
    let prepared = |_| {
        some_events
            .iter()
            .map(|e| Prepared::new(e.clone()).unwrap())
            .collect::<Vec<_>>()
    };
    time(
        "durable append of 1 call's 2 events, alone (SQLite commit, fsync)",
        n / 10,
        prepared,
        |p| appender.append(p).unwrap(),
    );
    let file = std::fs::File::create(data.join("fsync-probe")).unwrap();
    time(
        "  baseline: fsync after a 4 KiB append to a plain file, same dir",
        n / 10,
        |_| {
            std::io::Write::write_all(&mut &file, &[7u8; 4096]).unwrap();
        },
        |()| file.sync_all().unwrap(),
    );
    time(
        "server → agent: parse the answer, build + prepare its tool.result",
        n,
        answer,
        |a| {
            let v: Value = serde_json::from_slice(a.as_bytes()).unwrap();
            Prepared::new(rec.tool_result("echo", "1", &v)).unwrap()
        },
    );
    drop(rec);
    if let Ok(a) = Arc::try_unwrap(appender) {
        let _ = a.finish();
    }
}

/// Times `measure` alone (not `setup`) `n` times after `n`/10 warm-ups; prints a row.
fn time<T, R>(
    name: &str,
    n: usize,
    mut setup: impl FnMut(usize) -> T,
    mut measure: impl FnMut(T) -> R,
) {
    let mut all = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        let input = setup(i);
        let t = Instant::now();
        std::hint::black_box(measure(input));
        if i >= n / 10 {
            all.push(t.elapsed());
        }
    }
    let l = Latencies::new(all, 0, Duration::ZERO);
    let mean = l.all.iter().sum::<Duration>() / n as u32;
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "| {name} | {:.1} | {:.1} | {:.1} |",
        us(mean),
        us(l.pct(50.0)),
        us(l.pct(99.0))
    );
}

// ---------------------------------------------------------------------------------------
// The report.

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn diff_ms(a: Duration, b: Duration) -> String {
    format!("{:+.3}", (a.as_secs_f64() - b.as_secs_f64()) * 1e3)
}

fn report(
    args: &Args,
    n: usize,
    open: &[Latencies],
    closed: &[(usize, Latencies)],
    recorded: i64,
    through_proxy: usize,
    verify: &std::process::Output,
) {
    let (d, p) = (&open[0], &open[1]);
    println!(
        "\n## open loop: {} calls/s for {} s ({n} calls each, after {} warm-up calls); latency from the scheduled send time, ms",
        args.rate, args.secs, args.rate
    );
    println!("| | p50 | p99 | max | errors |");
    println!("|---|---:|---:|---:|---:|");
    for (name, l) in [("direct", d), ("through brig mcp-proxy", p)] {
        println!(
            "| {name} | {} | {} | {} | {} |",
            ms(l.pct(50.0)),
            ms(l.pct(99.0)),
            ms(l.max()),
            l.errors
        );
    }
    println!(
        "| **added (proxied − direct)** | **{}** | **{}** | {} | |",
        diff_ms(p.pct(50.0), d.pct(50.0)),
        diff_ms(p.pct(99.0), d.pct(99.0)),
        diff_ms(p.max(), d.max())
    );
    println!(
        "(scheduler: worst send lag {} ms direct, {} ms proxied)",
        ms(d.worst_send_lag),
        ms(p.worst_send_lag)
    );

    println!("\n## maximum throughput: closed loop, W calls in flight");
    println!("| W | | calls | calls/s | p50 ms | p99 ms | client CPU µs/call | upstream CPU µs/call | errors |");
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for (i, (w, l)) in closed.iter().enumerate() {
        let (c, u) = l.cpu_per_call();
        println!(
            "| {w} | {} | {} | {:.0} | {} | {} | {c:.0} | {u:.0} | {} |",
            ["direct", "proxied"][i % 2],
            l.all.len(),
            l.rate(),
            ms(l.pct(50.0)),
            ms(l.pct(99.0)),
            l.errors
        );
    }
    for pair in closed.chunks(2) {
        let ((w, d), (_, p)) = (&pair[0], &pair[1]);
        println!(
            "W = {w}: proxied / direct {:.2}; the proxy's own CPU (upstream CPU, proxied − direct): {:.0} µs per call",
            p.rate() / d.rate(),
            p.cpu_per_call().1 - d.cpu_per_call().1
        );
    }

    println!("\n## the record");
    println!(
        "recorded {recorded} of {through_proxy} calls (tool.call events in the ledger, calls sent through the proxy){}",
        if recorded == through_proxy as i64 {
            ""
        } else {
            " -- MISMATCH"
        }
    );
    let out = String::from_utf8_lossy(&verify.stdout);
    let err = String::from_utf8_lossy(&verify.stderr);
    println!(
        "brig ledger verify: {} ({})",
        if verify.status.success() {
            "ok"
        } else {
            "FAILED"
        },
        out.trim()
            .lines()
            .chain(err.trim().lines())
            .collect::<Vec<_>>()
            .join("; ")
    );
}
