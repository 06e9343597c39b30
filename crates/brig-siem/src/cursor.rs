//! Per-sink cursors: how far into the ledger each sink has been delivered.
//!
//! `siem/<name>.cursor` under the data directory holds `next`, the index of the first ledger
//! event not yet delivered (events `0..next` are done), with the sink it belongs to. It is
//! written to a temporary file, fsynced, renamed over the old one and the directory fsynced,
//! so a crash leaves either the old cursor or the new one. Batches skipped with
//! `--skip-rejected` are appended to `siem/<name>.skipped` (JSON lines).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{io_err, SiemError};

/// The directory of cursors inside a data directory.
pub fn dir(data: &Path) -> PathBuf {
    data.join("siem")
}

/// One sink's position in the ledger.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Cursor {
    pub name: String,
    /// The sink, without secrets (tokens are never in a sink's text).
    pub sink: String,
    /// The first ledger index not yet delivered.
    pub next: u64,
    /// When it last moved, RFC 3339.
    pub updated: String,
    /// Ledger events skipped because the sink rejected them (`--skip-rejected`).
    #[serde(default)]
    pub skipped: u64,
}

impl Cursor {
    fn path(data: &Path, name: &str) -> PathBuf {
        dir(data).join(format!("{name}.cursor"))
    }

    /// The cursor of `name`, if it was ever written.
    pub fn load(data: &Path, name: &str) -> Result<Option<Cursor>, SiemError> {
        let path = Self::path(data, name);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                io_err(&path)(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// Every cursor in the data directory, by name.
    pub fn all(data: &Path) -> Result<Vec<Cursor>, SiemError> {
        let d = dir(data);
        let entries = match fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&d)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err(&d))?;
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(name) = file.strip_suffix(".cursor") {
                if let Some(c) = Self::load(data, name)? {
                    out.push(c);
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Writes the cursor durably (temporary file, fsync, rename, fsync of the directory).
    pub fn save(&mut self, data: &Path) -> Result<(), SiemError> {
        self.updated = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let d = dir(data);
        fs::create_dir_all(&d).map_err(io_err(&d))?;
        let path = Self::path(data, &self.name);
        let tmp = d.join(format!(".{}.cursor.tmp", self.name));
        let body = serde_json::to_vec_pretty(self).expect("a cursor serializes");
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(&body).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        fs::rename(&tmp, &path).map_err(io_err(&path))?;
        File::open(&d)
            .and_then(|f| f.sync_all())
            .map_err(io_err(&d))
    }

    /// Records a skipped range beside the cursor (one JSON line, fsynced).
    pub fn record_skip(
        &mut self,
        data: &Path,
        from: u64,
        to: u64,
        detail: &str,
    ) -> Result<(), SiemError> {
        let path = dir(data).join(format!("{}.skipped", self.name));
        let line = serde_json::json!({
            "from": from, "to": to, "reason": detail,
            "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        writeln!(f, "{line}").map_err(io_err(&path))?;
        f.sync_all().map_err(io_err(&path))?;
        self.skipped += to - from;
        Ok(())
    }
}

/// A file-name-safe cursor name from a sink's text: `syslog+tcp://10.0.0.5:6514` →
/// `syslog-tcp-10.0.0.5-6514`.
pub fn default_name(sink: &str) -> String {
    let mut out = String::new();
    for c in sink.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches(['-', '.']).to_string();
    if out.is_empty() {
        "sink".into()
    } else {
        out
    }
}

/// Whether `name` can be a cursor's name (it becomes a file name).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_sinks() {
        assert_eq!(
            default_name("syslog+tcp://10.0.0.5:6514"),
            "syslog-tcp-10.0.0.5-6514"
        );
        assert_eq!(
            default_name("file:/var/log/brig.jsonl"),
            "file-var-log-brig.jsonl"
        );
        assert!(valid_name("splunk-prod"));
        assert!(!valid_name("../x"));
    }

    #[test]
    fn saved_cursor_reads_back() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = Cursor {
            name: "a".into(),
            sink: "file:/x".into(),
            next: 7,
            updated: String::new(),
            skipped: 0,
        };
        c.save(tmp.path()).unwrap();
        c.record_skip(tmp.path(), 7, 9, "HTTP 400").unwrap();
        assert_eq!(c.skipped, 2);
        let back = Cursor::load(tmp.path(), "a").unwrap().unwrap();
        assert_eq!(back.next, 7);
        assert_eq!(Cursor::all(tmp.path()).unwrap().len(), 1);
    }
}
