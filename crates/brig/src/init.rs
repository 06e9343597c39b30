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
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: InitArgs) -> anyhow::Result<Exit> {
    let (dir, signer) =
        brig_store::DataDir::init(&args.data.data, args.origin.as_deref()).context("brig init")?;
    let vkey = signer.verifier().to_vkey();
    if args.json {
        println!(
            "{}",
            json!({
                "data": dir.root(),
                "origin": signer.name(),
                "vkey": vkey,
                "vkey_file": dir.vkey_path(),
            })
        );
    } else {
        println!("Initialized Brig data directory {}", dir.root().display());
        println!("Ledger origin: {}", signer.name());
        println!("Verifier key (keep a copy outside the data directory; auditors need only this):");
        println!("  {vkey}");
    }
    Ok(Exit::Ok)
}
