//! `brig serve` and `brig tokens`: the control plane and who may call it.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use brig_server::auth::{self, Role};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::exit::Exit;
use crate::util::actor;
use crate::DataArgs;

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:7878", value_name = "ADDR")]
    listen: SocketAddr,
    /// Also accept OpenTelemetry traces (OTLP/HTTP, `POST /v1/traces` only) on this address,
    /// the standard OTLP port for exporters given just an endpoint (/v1/traces is on
    /// --listen too). Example: --otlp-listen 127.0.0.1:4318, then in the agent's environment
    /// OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 and
    /// OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer brig_…"
    #[arg(long, value_name = "ADDR")]
    otlp_listen: Option<SocketAddr>,
    /// Directory of Cedar policies for /v1/decide [default: Brig's built-in policy]
    #[arg(long, value_name = "DIR")]
    policy: Option<PathBuf>,
    /// The rules /v1/decide evaluates each call with, and incident response to its alerts.
    #[command(flatten)]
    detection: crate::mcp_proxy::DetectionArgs,
    /// Also forward alerts and incident changes to this SIEM sink, in a background thread
    /// (repeatable; see `brig siem forward --help` for sinks; HTTP token from
    /// $BRIG_SIEM_TOKEN).
    #[arg(long = "siem", value_name = "SINK")]
    siem: Vec<String>,
}

pub fn serve(a: ServeArgs) -> anyhow::Result<Exit> {
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BRIG_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let dir = a.data.open()?;
    // The agents Brig watches must not be able to read its key or replace its records.
    for m in dir.modes().iter().filter(|m| m.is_loose()) {
        eprintln!("brig serve: warning: {}", m.warning());
        tracing::warn!(path = %m.path.display(), mode = ?m.mode, "data directory or key open to other users");
    }
    let (detection, response) =
        a.detection
            .load(Some(&dir), &[], a.policy.clone(), "brig serve")?;
    let config = a.detection.config_files();
    let state =
        brig_server::State::open_guarding(dir, a.policy.as_deref(), detection, response, &config)
            .context("brig serve refuses to start")?;
    // SIEM forwarders follow the ledger beside the server; stopped after it.
    let forwarders = crate::siem::spawn_all(&a.data, &a.siem)?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let ready = |addr, otlp: Option<SocketAddr>| {
        eprintln!(
            "brig serve: listening on http://{addr} (API under /v1, OpenAPI at /v1/openapi.json)"
        );
        tracing::info!(%addr, "listening");
        if let Some(otlp) = otlp {
            eprintln!("brig serve: OTLP/HTTP traces on http://{otlp}/v1/traces");
            tracing::info!(%otlp, "listening for OTLP");
        }
    };
    rt.block_on(brig_server::serve_with(
        state,
        a.listen,
        a.otlp_listen,
        shutdown(),
        ready,
    ))
    .context("brig serve")?;
    forwarders.stop();
    eprintln!("brig serve: stopped; in-flight writes finished and a last checkpoint signed");
    Ok(Exit::Ok)
}

/// SIGINT or SIGTERM.
async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

#[derive(Subcommand)]
pub enum TokensCommand {
    /// Create a token; its secret is printed once (only its SHA-256 is kept).
    ///
    /// Examples:
    ///   brig tokens create --name gw-host1 --role agent --agent billing-bot
    ///   brig tokens create --name alice --role operator
    #[command(verbatim_doc_comment)]
    Create(CreateArgs),
    /// Every token with its role, agent, creation and revocation.
    List(ListArgs),
    /// Revoke a token: refused (401) from its next request on.
    Revoke(RevokeArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    #[command(flatten)]
    data: DataArgs,
    /// A name for the token (what the ledger records as the actor of its actions).
    #[arg(long)]
    name: String,
    /// agent (ingest and decide for its own identity), operator (everything a responder
    /// does), auditor (read).
    #[arg(long, value_parser = ["agent", "operator", "auditor"])]
    role: String,
    /// The agent identity an agent token acts as.
    #[arg(long, value_name = "ID")]
    agent: Option<String>,
    /// Most requests per second this token may make (over it: 429) [default: no limit of
    /// its own].
    #[arg(long, value_name = "N")]
    rate: Option<u32>,
    /// Largest request body this token may send, in bytes (over it: 413) [default: the
    /// server's limit].
    #[arg(long, value_name = "BYTES")]
    max_body: Option<u64>,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    data: DataArgs,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The token's name.
    name: String,
}

pub fn tokens(cmd: TokensCommand) -> anyhow::Result<Exit> {
    match cmd {
        TokensCommand::Create(a) => {
            let mut store = a.data.open()?.store()?;
            let role = Role::parse(&a.role).context("--role")?;
            let limits = auth::Limits {
                rate: a.rate,
                max_body: a.max_body,
            };
            let secret = auth::create_limited(
                &mut store,
                &a.name,
                role,
                a.agent.as_deref(),
                &actor(&None),
                limits,
            )
            .context("creating the token")?;
            if a.json {
                println!(
                    "{}",
                    json!({"name": a.name, "role": a.role, "agent": a.agent, "token": secret,
                           "rate": a.rate, "max_body": a.max_body})
                );
            } else {
                println!("{secret}");
                eprintln!(
                    "token `{}` ({}) created; this is the only time it is shown",
                    a.name, a.role
                );
            }
            Ok(Exit::Ok)
        }
        TokensCommand::List(a) => {
            let rows = a.data.open()?.store()?.tokens()?;
            if a.json {
                let v: Vec<_> = rows
                    .iter()
                    .map(|t| {
                        json!({"name": t.name, "role": t.role, "agent": t.agent,
                        "created_nanos": t.created_nanos, "created_by": t.created_by,
                        "revoked_nanos": t.revoked_nanos, "rate": t.rate, "max_body": t.max_body})
                    })
                    .collect();
                println!("{}", serde_json::to_string(&v)?);
            } else {
                for t in &rows {
                    let limits = match (t.rate, t.max_body) {
                        (None, None) => String::new(),
                        (r, b) => format!(
                            " (rate {}/s, body {} bytes)",
                            r.map_or("-".into(), |r| r.to_string()),
                            b.map_or("-".into(), |b| b.to_string())
                        ),
                    };
                    println!(
                        "{:<24} {:<9} {:<20} {}{limits}",
                        t.name,
                        t.role,
                        t.agent.as_deref().unwrap_or("-"),
                        if t.revoked_nanos.is_some() {
                            "revoked"
                        } else {
                            "live"
                        }
                    );
                }
            }
            Ok(Exit::Ok)
        }
        TokensCommand::Revoke(a) => {
            let mut store = a.data.open()?.store()?;
            let now = brig_model::Timestamp::now().unix_nanos();
            if !store.revoke_token(&a.name, now)? {
                anyhow::bail!("no live token named `{}`", a.name);
            }
            println!("revoked `{}`", a.name);
            Ok(Exit::Ok)
        }
    }
}
