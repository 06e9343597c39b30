//! The ledger: its latest signed checkpoint, and a full verification on request (the same
//! `brig_ledger::verify` as `brig ledger verify`, against the data directory's key).

use std::sync::Arc;

use axum::extract::State as Shared;
use axum::http::StatusCode;
use axum::Form;
use brig_ledger::store::LedgerStore;
use brig_ledger::verify::{verify as verify_ledger, VerifyOptions};
use maud::{html, Markup};
use serde::Deserialize;

use super::session::Viewer;
use super::{blocking, csrf_field, internal, layout, respond, Flash, UiResult};
use crate::State;

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn checkpoint_markup(state: &State) -> Result<Markup, super::UiError> {
    let (cp, size) = state
        .store
        .with(|s| Ok::<_, brig_ledger::store::StoreError>((s.latest_checkpoint()?, s.size()?)))
        .map_err(internal)?;
    Ok(html! {
        section aria-labelledby="h-checkpoint" {
            h2 #h-checkpoint { "Latest checkpoint" }
            @if let Some(cp) = cp {
                dl.figures {
                    dt { "Size" } dd { (cp.size) " events" }
                    dt { "Root" } dd { code { (b64(&cp.root)) } }
                    dt { "Events in the ledger now" } dd { (size) }
                }
                h3 { "Signed note" }
                pre { (cp.note) }
            } @else {
                p { "No checkpoint signed yet (" (size) " events in the ledger)." }
            }
        }
    })
}

fn page_markup(v: &Viewer, flash: Option<Flash>, cp: Markup) -> Markup {
    layout(
        v,
        "/ui/ledger",
        "Ledger",
        flash,
        html! {
            (cp)
            form method="post" action="/ui/ledger/verify" {
                (csrf_field(v))
                button type="submit" { "Verify now" }
            }
        },
    )
}

pub async fn page(Shared(state): Shared<Arc<State>>, v: Viewer) -> UiResult {
    let st = state.clone();
    let cp = blocking(move || checkpoint_markup(&st)).await?;
    let flash = state.console.take_flash(&v.sid);
    Ok(respond(StatusCode::OK, page_markup(&v, flash, cp)))
}

#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    csrf: String,
}

/// Verifies the whole ledger now and shows the outcome.
pub async fn verify(
    Shared(state): Shared<Arc<State>>,
    v: Viewer,
    Form(f): Form<VerifyForm>,
) -> UiResult {
    // Verification only reads: auditors run it too.
    v.check_form(&f.csrf)?;
    let st = state.clone();
    let (message, cp) = blocking(move || {
        let verifier = st.data.verifier().map_err(internal)?;
        let origin = st.data.origin().map_err(internal)?;
        let mut store = st.data.store().map_err(internal)?;
        let report = verify_ledger(
            &mut store,
            &verifier,
            &origin,
            &VerifyOptions {
                deep: false,
                progress: None,
                trusted: &[],
            },
        );
        let message = match report {
            Ok(r) if r.is_intact() => Flash::Status(format!(
                "Ledger verified: {} events, {} checkpoints, {} payload blobs intact{}.",
                r.events,
                r.checkpoints,
                r.blobs,
                if r.unsigned_tail > 0 {
                    format!(
                        "; {} events after the latest checkpoint not yet signed",
                        r.unsigned_tail
                    )
                } else {
                    String::new()
                }
            )),
            Ok(r) => {
                let first: Vec<String> = r
                    .problems
                    .iter()
                    .take(5)
                    .map(|p| match p.index {
                        Some(i) => format!("event {i}: {}", p.what),
                        None => p.what.clone(),
                    })
                    .collect();
                Flash::Alert(format!(
                    "Ledger verification failed ({} problems): {}",
                    r.problems.len() as u64 + r.suppressed,
                    first.join("; ")
                ))
            }
            Err(e) => Flash::Alert(format!("Ledger verification could not run: {e}")),
        };
        Ok((message, checkpoint_markup(&st)?))
    })
    .await?;
    Ok(respond(StatusCode::OK, page_markup(&v, Some(message), cp)))
}
