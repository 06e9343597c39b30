//! `brig detect`: run the detection rules over a file of events, offline.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use brig_detect::otlp;
use brig_detect::rules::{Alert, Rules};
use brig_model::NewEvent;
use clap::{Args, ValueEnum};
use serde_json::Value;

use crate::exit::Exit;

#[derive(Args)]
pub struct DetectArgs {
    /// Events to evaluate: Brig event JSONL, or OpenTelemetry traces in OTLP/JSON (one
    /// ExportTraceServiceRequest, or one per line); `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// What the input is [default: recognized from its content]
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    format: Format,
    /// Directory of Sigma rules (*.yml, *.yaml, recursively) [default: Brig's built-in pack]
    #[arg(long, value_name = "DIR")]
    rules: Option<PathBuf>,
    /// One JSON alert per line (rule_id, title, level, kind, session, agent, events …).
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Auto,
    Otlp,
    Brig,
}

pub fn run(args: DetectArgs) -> anyhow::Result<Exit> {
    let rules = match &args.rules {
        Some(dir) => {
            Rules::load_dir(dir).with_context(|| format!("loading rules from {}", dir.display()))?
        }
        None => Rules::builtin(),
    };
    let text = read_input(&args.input)?;
    let events =
        parse(&text, args.format).with_context(|| format!("reading {}", args.input.display()))?;
    let mut detector = rules.detector();
    let mut alerts = 0usize;
    let mut sessions = std::collections::BTreeSet::new();
    for (i, e) in events.iter().enumerate() {
        sessions.insert(e.session.clone());
        for a in detector.observe(e, &event_id(e, i)) {
            alerts += 1;
            print_alert(&a, args.json)?;
        }
    }
    eprintln!(
        "brig detect: {} events, {} sessions, {} rules, {alerts} alerts",
        events.len(),
        sessions.len(),
        rules.len()
    );
    Ok(Exit::Ok)
}

fn read_input(path: &PathBuf) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading stdin")?;
        return Ok(s);
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn parse(text: &str, format: Format) -> anyhow::Result<Vec<NewEvent>> {
    let format = match format {
        Format::Auto if looks_like_otlp(text) => Format::Otlp,
        Format::Auto => Format::Brig,
        f => f,
    };
    if format == Format::Otlp {
        return Ok(otlp::read(text)?);
    }
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<NewEvent>(line) {
            Ok(e) => events.push(e),
            Err(e) => bail!("line {}: not a Brig event: {e}", i + 1),
        }
    }
    Ok(events)
}

/// OTLP documents name `resourceSpans` near their start; Brig events never do. (The
/// reader parses the input once; this only looks.)
fn looks_like_otlp(text: &str) -> bool {
    let mut end = text.len().min(64 * 1024);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].contains("\"resourceSpans\"")
}

/// The id an alert names: the event's id, else its span, else its position.
fn event_id(e: &NewEvent, index: usize) -> String {
    if let Some(id) = e.id {
        return id.to_string();
    }
    match e.attrs.get("span_id").and_then(Value::as_str) {
        Some(span) => span.to_string(),
        None => format!("#{}", index + 1),
    }
}

fn print_alert(a: &Alert, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(a)?);
    } else {
        println!(
            "{:<8} {}  {}  session={} agent={} events={}{}",
            a.level.to_uppercase(),
            a.rule_id,
            a.title,
            a.session.as_deref().unwrap_or("-"),
            a.agent,
            a.events.join(","),
            if a.blocking { "  [blocking]" } else { "" }
        );
    }
    Ok(())
}
