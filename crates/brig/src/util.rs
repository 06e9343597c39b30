//! Small helpers shared by the subcommands.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use brig_ledger::note::NoteVerifier;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Standard base64, as C2SP formats use it.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A progress bar on stderr, shown only when stderr is a terminal (never in scripts or CI).
pub fn progress_bar(total: Option<u64>, message: &'static str) -> ProgressBar {
    let bar = match total {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner(),
    };
    bar.set_message(message);
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}

/// Who an operator command acts as: `--actor`, else `$USER`, else "operator".
pub fn actor(arg: &Option<String>) -> String {
    arg.clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".into())
}

/// A verifier key given on the command line: the vkey text itself, or a file holding it.
pub fn load_vkey(arg: &str) -> anyhow::Result<NoteVerifier> {
    let text = if Path::new(arg).is_file() {
        std::fs::read_to_string(arg).with_context(|| format!("cannot read key file {arg}"))?
    } else {
        arg.to_string()
    };
    NoteVerifier::from_vkey(text.trim())
        .with_context(|| format!("`{}` is not a usable verifier key (vkey)", text.trim()))
}
