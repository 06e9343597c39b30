//! `brig init`

use anyhow::Context;
use clap::Args;
use serde_json::json;

use crate::exit::Exit;
use crate::DataArgs;

#[derive(Args)]
pub struct InitArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The log's origin: the first line of every checkpoint and the key's name. A schema-less
    /// URL without spaces or `+` [default: brig.local/<hostname>/<random>]
    #[arg(long, value_name = "ORIGIN")]
    origin: Option<String>,
    /// Sign with this existing key (a `keys/ledger.key`) instead of a fresh one. Required to
    /// join a PostgreSQL database that already holds a ledger: every process on it signs
    /// with the one key.
    #[arg(long, value_name = "FILE")]
    signing_key: Option<std::path::PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: InitArgs) -> anyhow::Result<Exit> {
    let opts = brig_store::InitOptions {
        origin: args.origin.as_deref(),
        database: args.data.database.as_deref(),
        signing_key: args.signing_key.as_deref(),
    };
    let (dir, signer) =
        brig_store::DataDir::init_with(&args.data.data, &opts).context("brig init")?;
    let vkey = signer.verifier().to_vkey();
    if args.json {
        println!(
            "{}",
            json!({
                "data": dir.root(),
                "origin": signer.name(),
                "vkey": vkey,
                "vkey_file": dir.vkey_path(),
                "backend": if dir.database().is_some() { "postgresql" } else { "sqlite" },
                "database": dir.describe(),
            })
        );
    } else {
        println!("Initialized Brig data directory {}", dir.root().display());
        println!("State: {}", dir.describe());
        println!("Ledger origin: {}", signer.name());
        println!("Verifier key (keep a copy outside the data directory; auditors need only this):");
        println!("  {vkey}");
    }
    Ok(Exit::Ok)
}
