//! `brig postmortem`: a blameless post-mortem of one incident, written from the record.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use brig_incident::clocks::Regimes;
use brig_incident::postmortem::{self, Sources};
use brig_model::Timestamp;
use clap::{Args, ValueEnum};

use crate::exit::Exit;
use crate::DataArgs;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// Markdown, for a wiki or a ticket.
    Md,
    /// One self-contained HTML page (inline CSS, the timeline as an SVG chart, no script).
    Html,
}

#[derive(Args)]
pub struct PostmortemArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The incident id (or a unique prefix of it).
    #[arg(long, value_name = "ID")]
    incident: String,
    #[arg(long, value_enum, default_value = "md")]
    format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Risk register: data classes, the agent's workflow and tools, how changes are reversed.
    #[arg(long, env = "BRIG_REGISTER", value_name = "FILE")]
    register: Option<PathBuf>,
    /// Your own reporting regimes table, replacing the shipped one (regimes/regimes.toml).
    #[arg(long, value_name = "FILE")]
    regimes: Option<PathBuf>,
    /// The report's content as JSON instead of a document.
    #[arg(long)]
    json: bool,
}

pub fn run(a: PostmortemArgs) -> anyhow::Result<Exit> {
    let dir = a.data.open()?;
    let mut store = dir.store()?;
    let register = a
        .register
        .as_ref()
        .map(|f| brig_register::Register::load(f).context("loading the risk register"))
        .transpose()?;
    let regimes = match &a.regimes {
        Some(f) => Regimes::load(f)?,
        None => Regimes::builtin().clone(),
    };
    let src = Sources {
        register: register.as_ref(),
        regimes: &regimes,
        now_nanos: Timestamp::now().unix_nanos(),
    };
    let p = postmortem::build(&mut store, &a.incident, &src)?;
    // Secrets a target or a prompt carried read `[REDACTED kind]` in every format.
    let text = if a.json {
        let mut v = serde_json::to_value(&p)?;
        brig_model::secrets::redact_in_place(&mut v);
        serde_json::to_string_pretty(&v)? + "\n"
    } else {
        brig_model::secrets::redact_text(&match a.format {
            Format::Md => postmortem::markdown::render(&p),
            Format::Html => postmortem::html::render(&p),
        })
    };
    match &a.output {
        Some(f) => {
            std::fs::write(f, text).with_context(|| format!("writing {}", f.display()))?;
            eprintln!(
                "brig: post-mortem of {} written to {}",
                p.incident.id,
                f.display()
            );
        }
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("writing to stdout")?,
    }
    Ok(Exit::Ok)
}
