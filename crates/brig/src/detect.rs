//! `brig detect`: run the detection rules over a file of events, offline.

use std::io::{BufRead, BufReader, Read};
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
    /// The risk register (brig.toml): data classes, internal domains, workflows' tools.
    #[arg(long, value_name = "FILE", env = "BRIG_REGISTER")]
    register: Option<PathBuf>,
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
    let register = match &args.register {
        Some(f) => Some(std::sync::Arc::new(
            brig_register::Register::load(f).context("loading the risk register")?,
        )),
        None => None,
    };
    let mut run = Run {
        detector: rules.detector_with(register),
        json: args.json,
        events: 0,
        alerts: 0,
        sessions: std::collections::BTreeSet::new(),
    };
    let input = open(&args.input)?;
    read_events(input, args.format, |e| run.observe(e))
        .with_context(|| format!("reading {}", args.input.display()))?;
    eprintln!(
        "brig detect: {} events, {} sessions, {} rules, {} alerts",
        run.events,
        run.sessions.len(),
        rules.len(),
        run.alerts
    );
    Ok(Exit::Ok)
}

/// The detector and what it has seen so far.
struct Run {
    detector: brig_detect::rules::Detector,
    json: bool,
    events: usize,
    alerts: usize,
    sessions: std::collections::BTreeSet<Option<String>>,
}

impl Run {
    fn observe(&mut self, e: NewEvent) -> anyhow::Result<()> {
        self.sessions.insert(e.session.clone());
        for a in self.detector.observe(&e, &event_id(&e, self.events)) {
            self.alerts += 1;
            print_alert(&a, self.json)?;
        }
        self.events += 1;
        Ok(())
    }
}

fn open(path: &PathBuf) -> anyhow::Result<Box<dyn BufRead>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let f = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Box::new(BufReader::with_capacity(1 << 20, f)))
}

/// Streams events to `each`, one input line at a time, so memory stays bounded by the
/// largest line whatever the file's size: Brig JSONL, or OTLP with one
/// `ExportTraceServiceRequest` per line. A single pretty-printed OTLP document (many lines,
/// one JSON value) is read whole.
fn read_events(
    mut input: Box<dyn BufRead>,
    format: Format,
    mut each: impl FnMut(NewEvent) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut line = String::new();
    let mut number = 0usize;
    let mut format = format;
    let mut first = true;
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        number += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let is_first = std::mem::replace(&mut first, false);
        if format == Format::Auto {
            format = match serde_json::from_str::<Value>(text) {
                Ok(v) if v.get("resourceSpans").is_some() => Format::Otlp,
                Ok(_) => Format::Brig,
                // Not a value on its own line: one document over many lines.
                Err(_) => return whole_document(input, &line, number, each),
            };
        }
        match format {
            Format::Otlp => {
                let doc: Value = match serde_json::from_str(text) {
                    Ok(v) => v,
                    // A pretty-printed document starts with a line that is not a value.
                    Err(_) if is_first => return whole_document(input, &line, number, each),
                    Err(e) => bail!("line {number}: not JSON: {e}"),
                };
                for e in otlp::read_document(&doc, number)? {
                    each(e)?;
                }
            }
            _ => match serde_json::from_str::<NewEvent>(text) {
                Ok(e) => each(e)?,
                Err(e) => bail!("line {number}: not a Brig event: {e}"),
            },
        }
    }
}

/// The rest of a pretty-printed OTLP document, read whole (`first` is what was read of it).
fn whole_document(
    mut input: Box<dyn BufRead>,
    first: &str,
    number: usize,
    mut each: impl FnMut(NewEvent) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut text = first.to_string();
    input.read_to_string(&mut text)?;
    if !looks_like_otlp(&text) {
        bail!("line {number}: neither a Brig event nor an OTLP document");
    }
    for e in otlp::read(&text)? {
        each(e)?;
    }
    Ok(())
}

/// OTLP documents name `resourceSpans` near their start; Brig events never do.
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
