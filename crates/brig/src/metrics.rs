//! `brig metrics`: time to detect, contain and restore, forensic coverage, tested rollback,
//! repeat incidents, impact counts and drill scores, read from the record.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use brig_incident::metrics::{self, Durations, Metrics, Share};
use brig_model::Timestamp;
use clap::Args;

use crate::exit::Exit;
use crate::DataArgs;

pub const ABOUT: &str = "What each figure measures:
  time to detect   an incident's first harmful event (the earliest event its alerts matched,
                   or the reported time) to its detection (the incident opened)
  time to contain  the first harmful event to the `contained` step (the playbook's
                   containment, or `brig incidents step ID contained`)
  time to restore  detection to the `recovered` step (a successful
                   `brig rollback verify --incident ID`, or `brig incidents step ID recovered`)
  Each: mean and p90 (nearest rank) in seconds, over the N incidents that reached both points.
  forensic coverage  incidents with a recorded successful verification of one of their
                     evidence bundles (`brig evidence verify FILE --record`) / incidents
  tested rollback    workflows (the register's with --register, and those of incidents and
                     drills) with a passed drill whose rollback was verified / workflows
  repeats          agents, and tools the alerts came through (connectors), with >1 incident
  impact           incidents by outcome (exposed, altered, copied_out, evasion), data class,
                   severity, state and rule
  drills           per scenario, its last recorded result

Examples:
  brig metrics
  brig metrics --since 2026-01-01T00:00:00Z --register brig.toml --json";

#[derive(Args)]
#[command(after_help = ABOUT)]
pub struct MetricsArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Only incidents detected, and drills run, at or after this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    since: Option<Timestamp>,
    /// Risk register: its workflows count toward "workflows with a tested rollback path".
    #[arg(long, env = "BRIG_REGISTER", value_name = "FILE")]
    register: Option<PathBuf>,
    /// The whole result as one JSON object.
    #[arg(long)]
    json: bool,
}

fn parse_time(s: &str) -> Result<Timestamp, String> {
    s.parse()
}

pub fn run(a: MetricsArgs) -> anyhow::Result<Exit> {
    let workflows = match &a.register {
        Some(f) => brig_register::Register::load(f)
            .context("loading the risk register")?
            .workflows
            .into_iter()
            .map(|w| w.name)
            .collect(),
        None => Vec::new(),
    };
    let dir = a.data.open()?;
    let mut store = dir.store()?;
    let m = metrics::metrics(&mut store, workflows, a.since.map(|t| t.unix_nanos()))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&m)?);
    } else {
        print(&m);
    }
    Ok(Exit::Ok)
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |s| format!("{s:.3}s"))
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |s| format!("{s:.0}ms"))
}

fn share(s: &Share) -> String {
    match s.ratio {
        Some(r) => format!("{}/{} ({:.0}%)", s.met, s.total, r * 100.0),
        None => "-/0".into(),
    }
}

fn counts(m: &BTreeMap<String, usize>) -> String {
    if m.is_empty() {
        return "-".into();
    }
    m.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print(m: &Metrics) {
    match m.since {
        Some(t) => println!(
            "{} incidents detected since {}",
            m.incidents,
            Timestamp::from_unix_nanos(t)
        ),
        None => println!("{} incidents", m.incidents),
    }
    println!("\n{:<20} {:>10} {:>10} {:>6}", "", "mean", "p90", "over");
    let row = |name: &str, d: &Durations| {
        println!(
            "{:<20} {:>10} {:>10} {:>6}",
            name,
            secs(d.mean_seconds),
            secs(d.p90_seconds),
            d.count
        )
    };
    row("time to detect", &m.time_to_detect);
    row("time to contain", &m.time_to_contain);
    row("time to restore", &m.time_to_restore);
    println!();
    let missing = |s: &Share, what: &str| {
        if !s.missing.is_empty() {
            println!("  {what}: {}", s.missing.join(", "));
        }
    };
    println!(
        "{:<20} {}",
        "forensic coverage",
        share(&m.forensic_coverage)
    );
    missing(&m.forensic_coverage, "no verified bundle");
    println!("{:<20} {}", "tested rollback", share(&m.tested_rollback));
    missing(&m.tested_rollback, "untested workflows");
    println!();
    println!("{:<20} {}", "repeats by agent", counts(&m.repeat_by_agent));
    println!(
        "{:<20} {}",
        "repeats by connector",
        counts(&m.repeat_by_connector)
    );
    println!("{:<20} {}", "by outcome", counts(&m.by_outcome));
    println!("{:<20} {}", "by data class", counts(&m.by_class));
    println!("{:<20} {}", "by severity", counts(&m.by_severity));
    println!("{:<20} {}", "by state", counts(&m.by_state));
    println!("{:<20} {}", "by rule", counts(&m.by_rule));
    if !m.drills.is_empty() {
        println!(
            "\n{:<28} {:<14} {:<7} {:>8} {:>8}  rollback",
            "drill", "workflow", "result", "ttd", "ttc"
        );
        for d in &m.drills {
            println!(
                "{:<28} {:<14} {:<7} {:>8} {:>8}  {}",
                d.scenario,
                d.workflow,
                if d.passed { "passed" } else { "FAILED" },
                ms(d.ttd_ms),
                ms(d.ttc_ms),
                if d.rollback_verified { "verified" } else { "-" }
            );
        }
    }
    if m.cut {
        println!("\n(some older records were beyond what one run reads and are left out)");
    }
}
