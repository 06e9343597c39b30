//! Evidence bundles of incidents: exported by [`crate::routes::export_recorded`] (as
//! `/v1/evidence/export` does, recorded in the ledger with the token) into the data
//! directory's `exports/` folder, each verified offline with `brig_evidence::verify` against
//! the ledger's key, and downloadable.

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use axum::extract::{Path, State as Shared};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use brig_evidence::export::{Options, Scope};
use maud::html;
use serde::Deserialize;

use super::rollback::incident_select;
use super::session::Viewer;
use super::{blocking, csrf_field, internal, layout, respond, time_el, Flash, UiError, UiResult};
use crate::State;

/// The folder under the data directory that bundles are kept in.
pub const EXPORTS: &str = "exports";

fn exports_dir(state: &State) -> PathBuf {
    state.data.root().join(EXPORTS)
}

/// A bundle's file name as the console writes them: letters, digits, `.`, `-`, `_`, not
/// starting with a dot. Anything else is refused before the file system is asked.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// A bundle file as it was verified: path, size, modification time.
type Seen = (PathBuf, u64, SystemTime);

/// Verification results by file: a bundle is verified once.
fn verified() -> &'static Mutex<HashMap<Seen, String>> {
    static CACHE: OnceLock<Mutex<HashMap<Seen, String>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// "verified" or "failed: …" for the bundle at `path`.
fn verify_status(state: &State, path: &FsPath, len: u64, mtime: SystemTime) -> String {
    let key = (path.to_path_buf(), len, mtime);
    if let Some(s) = verified()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
    {
        return s.clone();
    }
    let status = match state.data.verifier() {
        Err(e) => format!("failed: the ledger's key cannot be read: {e}"),
        Ok(key) => {
            let r = brig_evidence::verify::verify_file(path, Some(&key));
            if r.ok {
                "verified".to_string()
            } else {
                let problems: Vec<String> = r
                    .problems
                    .iter()
                    .take(3)
                    .map(|p| format!("{}: {}", p.item, p.what))
                    .collect();
                format!("failed: {}", problems.join("; "))
            }
        }
    };
    verified()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, status.clone());
    status
}

struct Bundle {
    name: String,
    bytes: u64,
    created_nanos: i64,
    status: String,
}

fn bundles(state: &State) -> Result<Vec<Bundle>, UiError> {
    let dir = exports_dir(state);
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(internal(format!("{}: {e}", dir.display()))),
    };
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() || !valid_name(&name) {
            continue;
        }
        let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let created_nanos = mtime
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        let status = verify_status(state, &entry.path(), meta.len(), mtime);
        out.push(Bundle {
            name,
            bytes: meta.len(),
            created_nanos,
            status,
        });
    }
    out.sort_by(|a, b| {
        b.created_nanos
            .cmp(&a.created_nanos)
            .then(a.name.cmp(&b.name))
    });
    Ok(out)
}

fn size_words(n: u64) -> String {
    match n {
        n if n < 10 * 1024 => format!("{n} B"),
        n if n < 10 * 1024 * 1024 => format!("{} KiB", n / 1024),
        n => format!("{} MiB", n / (1024 * 1024)),
    }
}

pub async fn page(Shared(state): Shared<Arc<State>>, v: Viewer) -> UiResult {
    let st = state.clone();
    let (ids, list) = blocking(move || {
        let rows = st
            .store
            .with(|s| s.incidents(true, 1000))
            .map_err(internal)?;
        let ids: Vec<(String, String)> = rows
            .into_iter()
            .map(|r| (r.id, format!("{} ({})", r.agent, r.state)))
            .collect();
        Ok((ids, bundles(&st)?))
    })
    .await?;
    let flash = state.console.take_flash(&v.sid);
    Ok(respond(
        StatusCode::OK,
        layout(
            &v,
            "/ui/evidence",
            "Evidence",
            flash,
            html! {
                // Auditors export too: a bundle changes nothing, and the ledger names who took it.
                (incident_select("/ui/evidence/export", "post", &ids, "", "Export evidence", csrf_field(&v)))
                p.small { "Bundles are kept in the data directory's " code { (EXPORTS) "/" } " folder and verified offline against the ledger's key ("
                    code { "brig evidence verify FILE --key VKEY" } " does the same)." }
                table {
                    caption { "Bundles" }
                    thead { tr { th scope="col" { "File" } th scope="col" { "Size" } th scope="col" { "Created" } th scope="col" { "Verification" } th scope="col" { "Download" } } }
                    tbody {
                        @if list.is_empty() { tr { td colspan="5" { "No bundle exported yet." } } }
                        @for b in &list {
                            tr {
                                th scope="row" { code { (b.name) } }
                                td { (size_words(b.bytes)) }
                                td { (time_el(b.created_nanos)) }
                                td class=(if b.status == "verified" { "ok" } else { "bad" }) { (b.status) }
                                td { a href={ "/ui/evidence/files/" (b.name) } download=(b.name) { "Download" } }
                            }
                        }
                    }
                }
            },
        ),
    ))
}

#[derive(Deserialize)]
pub struct ExportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    incident: String,
}

/// Exports an incident's bundle into `exports/`, records it, verifies it.
pub async fn export(
    Shared(state): Shared<Arc<State>>,
    v: Viewer,
    Form(f): Form<ExportForm>,
) -> UiResult {
    v.check_form(&f.csrf)?;
    let incident = f.incident.trim().to_string();
    if !valid_name(&incident) {
        return Err(UiError(
            StatusCode::BAD_REQUEST,
            format!("incident `{incident}`: choose an incident from the list"),
        ));
    }
    let by = v.actor();
    let st = state.clone();
    let done = blocking(move || {
        let dir = exports_dir(&st);
        std::fs::create_dir_all(&dir).map_err(|e| internal(format!("{}: {e}", dir.display())))?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let name = format!("{incident}-{stamp}.tar");
        let path = dir.join(&name);
        let opts = Options {
            by,
            compress: false,
            note: Some("exported from the web console".into()),
            // Secrets stay withheld: the CLI's --include-secrets is the deliberate way.
            include_secrets: false,
        };
        let summary =
            crate::routes::export_recorded(&st, &Scope::Incident(incident), &path, &opts)?;
        let meta = std::fs::metadata(&path).map_err(internal)?;
        let status = verify_status(
            &st,
            &path,
            meta.len(),
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        );
        Ok((name, summary.events, status))
    })
    .await;
    let message = match done {
        Ok((name, events, status)) => {
            Flash::Status(format!("Exported {name}: {events} events, {status}."))
        }
        Err(e) if e.0.is_client_error() => Flash::Alert(e.1),
        Err(e) => return Err(e),
    };
    state.console.flash(&v.sid, message);
    Ok(Redirect::to("/ui/evidence").into_response())
}

/// A bundle as a download.
pub async fn download(
    Shared(state): Shared<Arc<State>>,
    _v: Viewer,
    Path(name): Path<String>,
) -> UiResult {
    if !valid_name(&name) {
        return Err(UiError(
            StatusCode::NOT_FOUND,
            format!("There is no bundle {name}."),
        ));
    }
    let path = exports_dir(&state).join(&name);
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(_) => {
            return Err(UiError(
                StatusCode::NOT_FOUND,
                format!("There is no bundle {name}."),
            ))
        }
    };
    let meta = file.metadata().await.map_err(internal)?;
    if !meta.is_file() {
        return Err(UiError(
            StatusCode::NOT_FOUND,
            format!("There is no bundle {name}."),
        ));
    }
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_string()),
            (header::CONTENT_LENGTH, meta.len().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}
