//! `brig drill`: adversarial drills scored on detection, containment, evidence, rollback
//! and the hunt; and `brig drill sandbox-server`, the built-in tool server they can use.

use std::path::PathBuf;

use anyhow::{bail, Context};
use brig_drill::{Options, Scorecard, Upstream};
use brig_incident::drills::{self, DrillRecord};
use brig_model::Timestamp;
use clap::{Args, Subcommand, ValueEnum};

use crate::exit::Exit;
use crate::DataArgs;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DrillArgs {
    #[command(subcommand)]
    sub: Option<DrillSub>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum DrillSub {
    /// Brig's built-in sandbox MCP server (stdio), used by drills when Node.js or the
    /// reference filesystem server is missing: the reference server's file tools confined
    /// to DIRS, a shell whose outward-reaching commands are only logged, and outbound
    /// mail and HTTP written to the outbox instead of sent.
    #[command(hide = true)]
    SandboxServer {
        /// Where simulated mail, HTTP requests and shimmed commands are written.
        #[arg(long, value_name = "DIR")]
        outbox: PathBuf,
        /// The directories served (the first is the shell's working directory).
        #[arg(required = true, value_name = "DIRS")]
        dirs: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum UpstreamChoice {
    /// The reference filesystem server when Node.js and the package are found, else builtin.
    Auto,
    /// @modelcontextprotocol/server-filesystem (fails when it cannot be found).
    Reference,
    /// Brig's built-in sandbox server.
    Builtin,
}

#[derive(Args)]
struct RunArgs {
    /// The scenario to play, or `all`. `--list` names them.
    #[arg(long, default_value = "all", value_name = "NAME")]
    scenario: String,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
    /// The tool server behind the gateway.
    #[arg(long, value_enum, default_value = "auto")]
    upstream: UpstreamChoice,
    /// The workflow the drill stands in for: its result counts as that workflow's tested
    /// kill switch and rollback path in `brig metrics` and `brig readiness`.
    #[arg(long, default_value = "drill", value_name = "W")]
    workflow: String,
    /// Cedar policies for the drill's gateway [default: Brig's built-in policy]. Drill your
    /// own policies before you deploy them.
    #[arg(long, value_name = "DIR")]
    policy: Option<PathBuf>,
    /// Detection rules for the drill's gateway [default: Brig's built-in pack].
    #[arg(long, value_name = "DIR", conflicts_with = "no_detect")]
    rules: Option<PathBuf>,
    /// Run the gateway without detection (the drill then shows what is left: policy alone).
    #[arg(long)]
    no_detect: bool,
    /// Keep the sandboxes (workspace, ledger, evidence bundle) and print where they are.
    #[arg(long)]
    keep: bool,
    /// Make the sandboxes under DIR instead of a fresh temporary directory (implies --keep).
    #[arg(long, value_name = "DIR")]
    sandbox: Option<PathBuf>,
    /// Do not record the results in the data directory's ledger.
    #[arg(long)]
    no_record: bool,
    /// Print the scorecards as JSON (one object: scenarios, passed).
    #[arg(long)]
    json: bool,
    /// The data directory the results are recorded in (when it exists).
    #[command(flatten)]
    data: DataArgs,
}

pub fn run(a: DrillArgs) -> anyhow::Result<Exit> {
    match a.sub {
        Some(DrillSub::SandboxServer { outbox, dirs }) => {
            brig_drill::server::SandboxServer::new(dirs, outbox)
                .context("starting the sandbox server")?
                .serve()
                .context("serving MCP on stdio")?;
            Ok(Exit::Ok)
        }
        None => play(a.run),
    }
}

fn play(a: RunArgs) -> anyhow::Result<Exit> {
    let all = brig_drill::scenario::all();
    if a.list {
        for s in &all {
            println!("{:<28} {} ({})", s.name, s.title, s.source);
        }
        return Ok(Exit::Ok);
    }
    let chosen: Vec<_> = if a.scenario == "all" {
        all
    } else {
        match brig_drill::scenario::find(&a.scenario) {
            Some(s) => vec![s],
            None => bail!(
                "no scenario `{}`; `brig drill --list` names them ({})",
                a.scenario,
                all.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
            ),
        }
    };
    let upstream = match a.upstream {
        UpstreamChoice::Builtin => Upstream::Builtin,
        UpstreamChoice::Auto => Upstream::detect(),
        UpstreamChoice::Reference => match Upstream::detect() {
            u @ Upstream::Reference { .. } => u,
            Upstream::Builtin => bail!(
                "--upstream reference: Node.js or @modelcontextprotocol/server-filesystem was not \
                 found (set BRIG_MCP_FILESYSTEM to its dist/index.js, or npm install it here)"
            ),
        },
    };
    let (root, temp) = match &a.sandbox {
        Some(d) => (d.clone(), None),
        None => {
            let t = tempfile::Builder::new().prefix("brig-drill-").tempdir()?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let opts = Options {
        brig: std::env::current_exe().context("finding the brig executable")?,
        upstream,
        workflow: a.workflow.clone(),
        policy: a.policy.clone(),
        rules: a.rules.clone(),
        no_detect: a.no_detect,
        root: root.clone(),
    };
    if !a.json {
        eprintln!(
            "brig drill: {} scenario(s) through a real gateway in front of {} (sandbox: {})",
            chosen.len(),
            upstream_label(&opts.upstream),
            root.display()
        );
    }
    let mut cards = Vec::new();
    for s in &chosen {
        let card = brig_drill::run(&opts, s)
            .with_context(|| format!("scenario `{}` could not be played", s.name))?;
        if !a.json {
            eprintln!(
                "  {:<28} {}",
                s.name,
                if card.passed { "pass" } else { "FAIL" }
            );
        }
        cards.push(card);
    }
    let recorded = if a.no_record {
        None
    } else {
        record(&a.data, &cards)?
    };
    let passed = cards.iter().all(|c| c.passed);
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "passed": passed,
                "upstream": opts.upstream.name(),
                "recorded_in": recorded,
                "scenarios": cards,
            }))?
        );
    } else {
        print_table(&cards);
        match &recorded {
            Some(d) => println!("\nResults recorded in the ledger of {d}."),
            None if !a.no_record => println!(
                "\nResults not recorded: no data directory at {} (`brig init` one, or pass --data).",
                a.data.data.display()
            ),
            None => {}
        }
    }
    match temp {
        Some(t) if a.keep => {
            let kept = t.keep();
            if !a.json {
                println!("Sandboxes kept in {}", kept.display());
            }
        }
        _ => {}
    }
    Ok(if passed { Exit::Ok } else { Exit::Failed })
}

fn upstream_label(u: &Upstream) -> String {
    match u {
        Upstream::Reference { script, .. } => {
            format!("the MCP reference filesystem server ({})", script.display())
        }
        Upstream::Builtin => {
            "Brig's built-in sandbox server (Node.js or the reference server was not found)".into()
        }
    }
}

/// Records the results in the data directory's ledger when there is one.
fn record(data: &DataArgs, cards: &[Scorecard]) -> anyhow::Result<Option<String>> {
    if !data.data.join("keys").exists() && data.database.is_none() {
        return Ok(None);
    }
    let dir = data
        .open()
        .context("opening the data directory to record results")?;
    let at = Timestamp::now().unix_nanos();
    let records: Vec<DrillRecord> = cards
        .iter()
        .map(|c| DrillRecord {
            scenario: c.scenario.clone(),
            workflow: c.workflow.clone(),
            upstream: c.upstream.clone(),
            passed: c.passed,
            detected: c.detected,
            contained: c.contained,
            ttd_ms: c.ttd_ms,
            ttc_ms: c.ttc_ms,
            rollback_verified: c.rollback_verified,
            evidence_verified: c.evidence_verified,
            at,
        })
        .collect();
    let actor = std::env::var("USER").unwrap_or_else(|_| "brig drill".into());
    let mut ledger = dir.ledger()?;
    drills::record(&mut ledger, &records, &actor).context("recording the drill results")?;
    // Signed over the results, as every command that appends leaves the ledger.
    let signer = dir.signer().context("the ledger's signing key")?;
    ledger
        .checkpoint(&signer)
        .context("signing a checkpoint over the drill results")?;
    Ok(Some(dir.describe()))
}

/// The median round trip of the calls that went through: what any call costs, beside
/// which the times to detect and contain read.
fn allowed_round_trip_p50(cards: &[Scorecard]) -> Option<f64> {
    let mut ms: Vec<f64> = cards
        .iter()
        .flat_map(|c| c.steps.iter())
        .filter(|s| s.completed)
        .map(|s| s.ms)
        .collect();
    ms.sort_by(f64::total_cmp);
    ms.get(ms.len() / 2).copied()
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |m| format!("{m:.2}"))
}

fn print_table(cards: &[Scorecard]) {
    println!(
        "\n{:<28} {:<9} {:<10} {:>7} {:>7}  {:<8} {:<8} {:<6}  result",
        "scenario", "detected", "stopped", "TTD ms", "TTC ms", "evidence", "rollback", "copies"
    );
    for c in cards {
        let stopped = match (c.contained, c.stopped_at_step) {
            (true, Some(n)) => format!("step {n}"),
            _ if c.harmful_calls == 0 => "-".into(),
            _ => "no".into(),
        };
        println!(
            "{:<28} {:<9} {:<10} {:>7} {:>7}  {:<8} {:<8} {:<6}  {}",
            c.scenario,
            if c.detected { "yes" } else { "no" },
            stopped,
            opt_ms(c.ttd_ms),
            opt_ms(c.ttc_ms),
            if c.evidence_verified {
                "verified"
            } else {
                "FAILED"
            },
            if c.rollback_verified {
                "restored"
            } else {
                "FAILED"
            },
            format!("{}/{}", c.copies_found, c.copies_left),
            if c.passed { "pass" } else { "FAIL" }
        );
    }
    for c in cards {
        println!("\n{} — {}", c.scenario, c.title);
        for r in &c.rules {
            println!("  rule  {} ({}, {})", r.title, r.level, r.id);
        }
        if let Some(i) = &c.incident {
            println!("  incident {i} ({})", c.severity.as_deref().unwrap_or("-"));
        }
        for k in c.checks.iter().filter(|k| !k.ok) {
            println!("  FAIL {}: {}", k.name, k.detail);
        }
    }
    let n = cards.iter().filter(|c| c.passed).count();
    println!(
        "\n{n}/{} scenario(s) passed. copies = stealth copies found before/after rollback.",
        cards.len()
    );
    if let Some(p50) = allowed_round_trip_p50(cards) {
        println!(
            "Baseline: an allowed call's round trip through the gateway, p50 {p50:.2} ms \
             (the agent's view; TTD/TTC are from the ledger's timestamps)."
        );
    }
}
