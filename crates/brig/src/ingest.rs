//! `brig ingest`: JSONL in, durable ledger entries out.
//!
//! The main thread reads and validates lines and prepares events (JSON, salting, hashing);
//! the ledger writer thread appends them in group commits. Batches are cut at
//! [`BATCH`] events or whenever the input has nothing more buffered, so a file streams in
//! large groups while an interactive pipe gets each event recorded as soon as it arrives.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use brig_ledger::appender::{AppendResult, Appender, Checkpointing};
use brig_ledger::Prepared;
use brig_model::NewEvent;
use clap::Args;
use serde::Serialize;
use serde_json::json;

use crate::exit::Exit;
use crate::util::progress_bar;
use crate::DataArgs;
use brig_gateway::lines::read_line_limited;

/// Events per submission when the input is flowing.
const BATCH: usize = 2048;

#[derive(Args)]
pub struct IngestArgs {
    #[command(flatten)]
    data: DataArgs,
    /// JSONL file of Brig event JSON, or `-` for standard input.
    #[arg(value_name = "FILE|-")]
    input: PathBuf,
    /// Longest accepted line, in bytes; longer lines are rejected whole.
    #[arg(long, default_value_t = 16 * 1024 * 1024, value_name = "BYTES")]
    max_line_bytes: usize,
    /// Sign a checkpoint this often (seconds) while ingesting a long stream.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    checkpoint_interval: u64,
    /// Print one JSON line per durably recorded event on stdout
    /// ({"line":N,"index":I,"id":"…","duplicate":false}), as soon as it is durable.
    #[arg(long)]
    acks: bool,
    /// Print the summary as JSON (on stdout, after any acks).
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Rejected {
    line: u64,
    error: String,
}

#[derive(Default, Serialize)]
struct Summary {
    lines: u64,
    appended: u64,
    duplicates: u64,
    rejected: Vec<Rejected>,
    first_index: Option<u64>,
    last_index: Option<u64>,
}

/// A batch in flight: which input line each event came from, and where its receipts arrive.
struct InFlight {
    lines: Vec<u64>,
    receipts: Receiver<AppendResult>,
}

pub fn run(args: IngestArgs) -> anyhow::Result<Exit> {
    let dir = args.data.open()?;
    let signer = dir.signer()?;
    let ledger = dir.ledger()?;
    let appender = Appender::start(
        ledger,
        Some(Checkpointing {
            signer,
            interval: Duration::from_secs(args.checkpoint_interval.max(1)),
        }),
    );

    let (reader, total): (Box<dyn Read>, Option<u64>) = if args.input.as_os_str() == "-" {
        (Box::new(io::stdin()), None)
    } else {
        let f = File::open(&args.input)
            .with_context(|| format!("cannot open {}", args.input.display()))?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(f), len)
    };
    let bar = progress_bar(total, "ingesting");
    let mut reader = BufReader::with_capacity(1 << 20, bar.wrap_read(reader));

    // Acknowledgements are settled on their own thread, so each is reported the moment it
    // is durable even while the reader waits for more input.
    let (flights, landed) = std::sync::mpsc::channel::<InFlight>();
    let failed = Arc::new(AtomicBool::new(false));
    let acks = args.acks;
    let settler = {
        let failed = failed.clone();
        std::thread::spawn(move || -> (Summary, Option<anyhow::Error>) {
            let mut summary = Summary::default();
            let mut out = io::stdout().lock();
            for f in landed {
                let res = f
                    .receipts
                    .recv()
                    .unwrap_or_else(|_| Err("the ledger writer stopped".into()));
                if let Err(e) = settle(&f.lines, res, &mut summary, acks, &mut out) {
                    failed.store(true, Ordering::SeqCst);
                    return (summary, Some(e));
                }
            }
            (summary, None)
        })
    };

    let mut rejected = Vec::new();
    let mut line_count = 0u64;
    let mut batch = Vec::with_capacity(BATCH);
    let mut lines = Vec::with_capacity(BATCH);
    let mut buf = Vec::new();
    while !failed.load(Ordering::SeqCst) {
        let read = read_line_limited(&mut reader, &mut buf, args.max_line_bytes)
            .with_context(|| format!("reading {}", args.input.display()))?;
        let Some(status) = read else { break };
        let status = status.map_err(|t| {
            format!(
                "line is {} bytes; the limit is {} (--max-line-bytes)",
                t.len, t.limit
            )
        });
        line_count += 1;
        match status.and_then(|()| parse_line(&buf)) {
            Ok(None) => {}
            Ok(Some(p)) => {
                batch.push(p);
                lines.push(line_count);
            }
            Err(error) => {
                bar.suspend(|| eprintln!("brig ingest: line {line_count}: {error}"));
                rejected.push(Rejected {
                    line: line_count,
                    error,
                });
            }
        }
        if !batch.is_empty() && (batch.len() >= BATCH || reader.buffer().is_empty()) {
            let _ = flights.send(InFlight {
                lines: std::mem::take(&mut lines),
                receipts: appender.submit(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))),
            });
        }
    }
    if !batch.is_empty() && !failed.load(Ordering::SeqCst) {
        let _ = flights.send(InFlight {
            lines,
            receipts: appender.submit(batch),
        });
    }
    drop(flights);
    let (mut summary, failure) = settler.join().expect("the acknowledgement thread panicked");
    summary.lines = line_count;
    summary.rejected = rejected;
    bar.finish_and_clear();
    let stats = appender.finish();
    if let Some(e) = failure {
        bail!(
            "{e}\n{} events were recorded durably before the failure; the rest of the input was not",
            summary.appended
        );
    }
    let stats = stats.context("signing the final checkpoint")?;
    print_summary(
        &summary,
        stats.last_checkpoint.as_ref(),
        args.json,
        &mut io::stdout().lock(),
    )?;
    Ok(if summary.rejected.is_empty() {
        Exit::Ok
    } else {
        Exit::Rejected
    })
}

/// Parses and prepares one line. Blank lines are skipped.
fn parse_line(bytes: &[u8]) -> Result<Option<Prepared>, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("not valid UTF-8 (at byte {})", e.valid_up_to()))?;
    let text = text.strip_suffix('\r').unwrap_or(text);
    if text.trim().is_empty() {
        return Ok(None);
    }
    let event: NewEvent =
        serde_json::from_str(text).map_err(|e| format!("not a Brig event: {e}"))?;
    Prepared::new(event).map(Some).map_err(|e| e.to_string())
}

fn settle(
    lines: &[u64],
    res: AppendResult,
    summary: &mut Summary,
    acks: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let receipts = res.map_err(|e| anyhow::anyhow!("appending to the ledger failed: {e}"))?;
    for (line, r) in lines.iter().zip(&receipts) {
        if r.duplicate {
            summary.duplicates += 1;
        } else {
            summary.appended += 1;
            summary.first_index.get_or_insert(r.index);
            summary.last_index = Some(r.index);
        }
        if acks {
            writeln!(
                out,
                "{}",
                json!({"line": line, "index": r.index, "id": r.id, "duplicate": r.duplicate})
            )?;
        }
    }
    if acks {
        out.flush()?;
    }
    Ok(())
}

fn print_summary(
    s: &Summary,
    cp: Option<&brig_ledger::store::StoredCheckpoint>,
    as_json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if as_json {
        let mut v = serde_json::to_value(s)?;
        if let Some(cp) = cp {
            v["checkpoint"] = json!({"size": cp.size, "root": crate::util::b64(&cp.root)});
        }
        writeln!(out, "{v}")?;
        return Ok(());
    }
    let range = match (s.first_index, s.last_index) {
        (Some(a), Some(b)) => format!(" (ledger indices {a}..={b})"),
        _ => String::new(),
    };
    eprintln!(
        "recorded {} events{range}; {} duplicates skipped; {} lines rejected",
        s.appended,
        s.duplicates,
        s.rejected.len()
    );
    if let Some(cp) = cp {
        eprintln!(
            "signed checkpoint: size {} root {}",
            cp.size,
            crate::util::b64(&cp.root)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_say_what_is_wrong() {
        assert!(parse_line(b"\xff\xfe").unwrap_err().contains("UTF-8"));
        assert!(parse_line(b"{").unwrap_err().contains("EOF"));
        let e = parse_line(br#"{"source":"x","agent":1,"kind":"alert"}"#).unwrap_err();
        assert!(e.contains("invalid type: integer `1`"), "{e}");
        assert!(parse_line(b"   ").unwrap().is_none());
    }
}
