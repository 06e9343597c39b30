//! `file:PATH`: OCSF JSON lines, fsynced per batch, rotated by size.
//!
//! Rotation renames `PATH` to `PATH.1` (older ones shift to `PATH.2` … `PATH.N`; the oldest
//! beyond N is removed) before a batch that would take `PATH` past the size. A batch is never
//! split across files, so one batch larger than the limit makes a file larger than it.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::records::Record;
use crate::sink::{SendError, SinkOptions};

pub struct FileSink {
    path: PathBuf,
    rotate_bytes: Option<u64>,
    keep: usize,
}

impl FileSink {
    pub fn new(path: PathBuf, opts: &SinkOptions) -> Self {
        FileSink {
            path,
            rotate_bytes: opts.rotate_bytes,
            keep: opts.keep,
        }
    }

    pub fn send(&mut self, records: &[Record]) -> Result<(), SendError> {
        let mut buf = Vec::new();
        for r in records {
            serde_json::to_writer(&mut buf, &r.ocsf).expect("JSON serializes");
            buf.push(b'\n');
        }
        let fail = |what: &str, e: std::io::Error| {
            SendError::Retry(format!("{what} {}: {e}", self.path.display()))
        };
        let size = fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        if let Some(limit) = self.rotate_bytes {
            if size > 0 && size + buf.len() as u64 > limit {
                self.rotate().map_err(|e| fail("rotating", e))?;
            }
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| fail("opening", e))?;
        let start = f.metadata().map_err(|e| fail("opening", e))?.len();
        let written = f.write_all(&buf).and_then(|()| f.sync_all());
        if let Err(e) = written {
            // No torn line for the retry to append after: back to where the batch began.
            let _ = f.set_len(start);
            return Err(fail("writing", e));
        }
        Ok(())
    }

    fn rotated(&self, n: usize) -> PathBuf {
        let mut s = self.path.clone().into_os_string();
        s.push(format!(".{n}"));
        PathBuf::from(s)
    }

    fn rotate(&self) -> std::io::Result<()> {
        if self.keep == 0 {
            fs::remove_file(&self.path)?;
        } else {
            let _ = fs::remove_file(self.rotated(self.keep));
            for n in (1..self.keep).rev() {
                let from = self.rotated(n);
                if from.exists() {
                    fs::rename(&from, self.rotated(n + 1))?;
                }
            }
            fs::rename(&self.path, self.rotated(1))?;
        }
        sync_dir(self.path.parent().unwrap_or(Path::new(".")))
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)?.sync_all()
}
