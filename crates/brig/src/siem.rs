//! `brig siem`: forward alerts and incident changes (or every event) to a SIEM as OCSF, and
//! show how far each sink is behind the ledger.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use brig_ledger::store::LedgerStore;
use brig_siem::{cursor, forward, Options, Selection, Sink, SinkOptions, SinkSpec, Start, Stop};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::exit::Exit;
use crate::DataArgs;

#[derive(Subcommand)]
pub enum SiemCommand {
    /// Follow the ledger and send to a sink, from where that sink's cursor stands.
    ///
    /// Sinks:
    ///   file:PATH                                JSON lines (--rotate-bytes, --keep)
    ///   syslog+udp://HOST:PORT                   RFC 5424, one datagram per event
    ///   syslog+tcp://HOST:PORT                   RFC 5424, RFC 6587 octet counting
    ///   syslog+tls://HOST:PORT                   the same over TLS (system roots or --ca)
    ///   hec+https://HOST:8088/services/collector/event   Splunk HEC (token: --token-file)
    ///   https://HOST/PATH                        a JSON array of OCSF objects per batch
    ///
    /// The cursor (siem/NAME.cursor in the data directory) moves only after the sink
    /// acknowledged a batch, so nothing is lost while the SIEM is down: batches are retried
    /// with backoff and the backlog waits in the ledger. An HTTP rejection (4xx other than
    /// 408/429) stops with an error and the cursor unmoved, unless --skip-rejected.
    /// SIGINT/SIGTERM stop cleanly. Examples:
    ///   brig siem forward --to syslog+tls://siem.example.com:6514 --ca ca.pem
    ///   BRIG_SIEM_TOKEN=… brig siem forward --to hec+https://splunk:8088/services/collector/event
    ///   brig siem forward --to file:/var/log/brig/ocsf.jsonl --rotate-bytes 100000000 --once
    #[command(verbatim_doc_comment)]
    Forward(ForwardArgs),
    /// Each sink's cursor against the ledger's size (lag = events not yet forwarded).
    Status(StatusArgs),
}

#[derive(Args)]
pub struct ForwardArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Where to send (see above).
    #[arg(long, value_name = "SINK")]
    to: String,
    /// The cursor's name [default: derived from the sink].
    #[arg(long)]
    name: Option<String>,
    /// Every event with an OCSF class (calls, file activity, alerts, incidents), not only
    /// alerts and incident changes.
    #[arg(long)]
    all: bool,
    /// A new sink starts at the ledger's first event (the default).
    #[arg(long, conflicts_with = "from_now")]
    from_start: bool,
    /// A new sink starts with the events appended from now on (an existing cursor wins).
    #[arg(long)]
    from_now: bool,
    /// Keep following the ledger until stopped (the default).
    #[arg(long, conflicts_with = "once")]
    follow: bool,
    /// Forward what the ledger holds now, then exit (for cron and tests).
    #[arg(long)]
    once: bool,
    /// Ledger events per batch (what is held in memory).
    #[arg(long, default_value_t = 500, value_name = "N")]
    batch: usize,
    /// file: start a new file when the current one would pass this many bytes.
    #[arg(long, value_name = "BYTES")]
    rotate_bytes: Option<u64>,
    /// file: rotated files kept (PATH.1 newest … PATH.N).
    #[arg(long, default_value_t = 5, value_name = "N")]
    keep: usize,
    /// TLS: trust only the certificates in this PEM file instead of the system roots.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// HTTP: a file holding the token (HEC: `Splunk <token>`; otherwise a bearer token)
    /// [default: $BRIG_SIEM_TOKEN].
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// syslog HOSTNAME and HEC host [default: this host's name].
    #[arg(long)]
    hostname: Option<String>,
    /// Skip a batch the sink rejects (recorded in siem/NAME.skipped) instead of stopping.
    #[arg(long)]
    skip_rejected: bool,
    /// Longest wait between retries, in seconds.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    max_backoff: u64,
    /// Give up (exit 1, cursor unmoved) after this many seconds without delivering a batch
    /// [default: never].
    #[arg(long, value_name = "SECS")]
    retry_for: Option<u64>,
    /// Connect and request timeout, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    timeout: u64,
    /// Print what was done as JSON at the end.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    data: DataArgs,
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: SiemCommand) -> anyhow::Result<Exit> {
    match cmd {
        SiemCommand::Forward(a) => run_forward(a),
        SiemCommand::Status(a) => status(a),
    }
}

fn run_forward(a: ForwardArgs) -> anyhow::Result<Exit> {
    init_logs();
    let spec = SinkSpec::parse(&a.to)?;
    let name = a
        .name
        .clone()
        .unwrap_or_else(|| cursor::default_name(&a.to));
    if !cursor::valid_name(&name) {
        bail!("--name {name:?}: use letters, digits, `.`, `_` and `-`");
    }
    let dir = a.data.open()?;
    let mut store = dir.store()?;
    let mut sink = Sink::open(&spec, &sink_options(&a)?)?;
    let stop = Stop::default();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.flag()).context("installing a signal handler")?;
    }
    let mut opts = Options::new(&name, &a.to);
    opts.selection = if a.all {
        Selection::All
    } else {
        Selection::Alerts
    };
    opts.start = if a.from_now {
        Start::Now
    } else {
        Start::Beginning
    };
    opts.follow = !a.once;
    opts.batch = a.batch;
    opts.skip_rejected = a.skip_rejected;
    opts.max_backoff = Duration::from_secs(a.max_backoff.max(1));
    opts.retry_for = a.retry_for.map(Duration::from_secs);
    let out = forward(dir.root(), &mut store, &mut sink, &opts, &stop)
        .with_context(|| format!("forwarding to {}", a.to))?;
    if a.json {
        println!("{}", json!({ "name": name, "sink": a.to, "outcome": out }));
    } else {
        eprintln!(
            "brig siem: {name}: cursor {} of {} ({} records sent in {} batches, {} retries, {} events skipped)",
            out.cursor, out.ledger_size, out.records_sent, out.batches, out.retries, out.skipped
        );
    }
    Ok(Exit::Ok)
}

fn sink_options(a: &ForwardArgs) -> anyhow::Result<SinkOptions> {
    let mut o = SinkOptions {
        rotate_bytes: a.rotate_bytes,
        keep: a.keep,
        ca: a.ca.clone(),
        token: token(a.token_file.as_ref())?,
        timeout: Duration::from_secs(a.timeout.max(1)),
        ..SinkOptions::default()
    };
    if let Some(h) = &a.hostname {
        o.hostname = h.clone();
    }
    Ok(o)
}

/// The HTTP token: `--token-file`, else `$BRIG_SIEM_TOKEN`, never the command line.
pub fn token(file: Option<&PathBuf>) -> anyhow::Result<Option<String>> {
    let t = match file {
        Some(f) => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("reading the token from {}", f.display()))?,
        ),
        None => std::env::var("BRIG_SIEM_TOKEN").ok(),
    };
    Ok(t.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()))
}

fn status(a: StatusArgs) -> anyhow::Result<Exit> {
    let dir = a.data.open()?;
    let size = dir.store()?.size()?;
    let cursors = brig_siem::Cursor::all(dir.root())?;
    if a.json {
        let rows: Vec<_> = cursors
            .iter()
            .map(|c| {
                json!({
                    "name": c.name, "sink": c.sink, "cursor": c.next, "ledger_size": size,
                    "lag": size.saturating_sub(c.next), "skipped": c.skipped, "updated": c.updated,
                })
            })
            .collect();
        println!("{}", json!({ "ledger_size": size, "sinks": rows }));
        return Ok(Exit::Ok);
    }
    if cursors.is_empty() {
        println!("no SIEM sinks yet (brig siem forward --to SINK); ledger size {size}");
        return Ok(Exit::Ok);
    }
    println!(
        "{:<28} {:>10} {:>10} {:>8} {:>8}  {:<24} sink",
        "name", "cursor", "ledger", "lag", "skipped", "updated"
    );
    for c in cursors {
        println!(
            "{:<28} {:>10} {:>10} {:>8} {:>8}  {:<24} {}",
            c.name,
            c.next,
            size,
            size.saturating_sub(c.next),
            c.skipped,
            c.updated,
            c.sink
        );
    }
    Ok(Exit::Ok)
}

fn init_logs() {
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BRIG_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
}

/// Forwarders running beside `brig serve` (`--siem SINK`), one thread each.
pub struct Background {
    stop: Stop,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// Starts a forwarder thread per sink (default options: alerts and incident changes, from
/// the start for a new cursor, token from `$BRIG_SIEM_TOKEN`). A sink that cannot be parsed
/// stops the start; errors while running are logged and retried, except a rejection,
/// which stops that forwarder (its cursor stays where it was).
pub fn spawn_all(data: &DataArgs, sinks: &[String]) -> anyhow::Result<Background> {
    let stop = Stop::default();
    let mut threads = Vec::new();
    for text in sinks {
        let spec = SinkSpec::parse(text)?;
        let options = SinkOptions {
            token: token(None)?,
            ..SinkOptions::default()
        };
        let name = cursor::default_name(text);
        let data = data.clone();
        let text = text.clone();
        let stop = stop.clone();
        let t = std::thread::Builder::new()
            .name(format!("siem-{name}"))
            .spawn(move || background(&data, &spec, &options, &Options::new(&name, &text), &stop))
            .context("starting a SIEM forwarder")?;
        threads.push(t);
    }
    Ok(Background { stop, threads })
}

fn background(data: &DataArgs, spec: &SinkSpec, sink: &SinkOptions, opts: &Options, stop: &Stop) {
    while !stop.is_set() {
        let run = || -> anyhow::Result<()> {
            let dir = data.open()?;
            let mut store = dir.store()?;
            let mut sink = Sink::open(spec, sink)?;
            forward(dir.root(), &mut store, &mut sink, opts, stop)?;
            Ok(())
        };
        match run() {
            Ok(()) => return,
            Err(e) => {
                tracing::error!(sink = %opts.name, error = %format!("{e:#}"), "SIEM forwarder failed");
                if matches!(
                    e.downcast_ref::<brig_siem::SiemError>(),
                    Some(brig_siem::SiemError::Rejected { .. })
                ) {
                    return;
                }
            }
        }
        // Store or sink trouble: look again in a while.
        for _ in 0..100 {
            if stop.is_set() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Background {
    /// Stops the forwarders after their current batch and waits for them.
    pub fn stop(self) {
        self.stop.set();
        for t in self.threads {
            let _ = t.join();
        }
    }
}
