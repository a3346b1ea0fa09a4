//! Lines that cannot be read back. Only a file's last line, with no newline after it, can
//! be a torn write (a crash mid-append; it was never acknowledged, since every answer waits
//! for its line's newline to be synced). Any other line that does not parse — a line cut
//! short in the middle of a file included — is never skipped in silence: it is copied, with its file, byte offset and the parse error, to
//! `DATA_DIR/quarantine/quarantine.jsonl` (fsynced), logged at ERROR, counted, and turns
//! `/health` `degraded` until an admin acknowledges it. The same line read again (a second
//! rebuild, a restart) is recorded once.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

pub const QUARANTINE_DIR: &str = "quarantine";
pub const QUARANTINE_FILE: &str = "quarantine.jsonl";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Record {
    Line {
        file: String,
        offset: u64,
        error: String,
        line: String,
    },
    /// An admin has seen every line before this one.
    Acknowledged,
}

#[derive(Default)]
struct State {
    seen: HashSet<(String, u64)>,
    total: usize,
    unacknowledged: usize,
    last_error: Option<String>,
}

pub struct Quarantine {
    path: PathBuf,
    state: Mutex<State>,
}

/// Whether `bytes` ends in an unterminated last line (a torn write when it does not parse).
pub fn has_open_tail(bytes: &[u8]) -> bool {
    let complete = memchr::memrchr(b'\n', bytes).map_or(0, |i| i + 1);
    bytes[complete..].iter().any(|b| !b.is_ascii_whitespace())
}

impl Quarantine {
    /// Opens (and counts) the quarantine file of `data_dir`.
    pub fn open(data_dir: &Path) -> io::Result<Self> {
        let dir = data_dir.join(QUARANTINE_DIR);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(QUARANTINE_FILE);
        let mut state = State::default();
        match std::fs::read(&path) {
            Ok(bytes) => {
                for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    match serde_json::from_slice::<Record>(line) {
                        Ok(Record::Line {
                            file,
                            offset,
                            error,
                            ..
                        }) => {
                            state.seen.insert((file, offset));
                            state.total += 1;
                            state.unacknowledged += 1;
                            state.last_error = Some(error);
                        }
                        Ok(Record::Acknowledged) => state.unacknowledged = 0,
                        Err(_) => {}
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(Self {
            path,
            state: Mutex::new(state),
        })
    }

    /// A quarantine that records nowhere (offline readers that must not write).
    pub fn in_memory() -> Self {
        Self {
            path: PathBuf::new(),
            state: Mutex::new(State::default()),
        }
    }

    fn append(&self, record: &Record) -> io::Result<()> {
        if self.path.as_os_str().is_empty() {
            return Ok(());
        }
        let mut bytes = serde_json::to_vec(record).map_err(io::Error::other)?;
        bytes.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        f.write_all(&bytes)?;
        f.sync_data()
    }

    /// Keeps `line` (at `offset` in `file`) aside. Returns false if it was already kept.
    pub fn keep(&self, file: &Path, offset: u64, line: &[u8], error: &str) -> bool {
        let file = file.display().to_string();
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !s.seen.insert((file.clone(), offset)) {
            return false;
        }
        s.total += 1;
        s.unacknowledged += 1;
        s.last_error = Some(format!("{file} at byte {offset}: {error}"));
        tracing::error!(file = %file, offset, error, "an unreadable line was kept aside in the quarantine file; it was not applied");
        let record = Record::Line {
            file,
            offset,
            error: error.to_string(),
            line: String::from_utf8_lossy(line).into_owned(),
        };
        if let Err(e) = self.append(&record) {
            tracing::error!(error = %e, "could not write the quarantine file");
        }
        true
    }

    /// Parses every line of `bytes` (the contents of `file`). A last line with no newline
    /// that does not parse is counted as torn; any other line that does not parse is kept
    /// aside; neither is passed on. Returns how many lines were torn (0 or 1).
    pub fn parse_lines<T: serde::de::DeserializeOwned>(
        &self,
        file: &Path,
        bytes: &[u8],
        f: impl FnMut(T),
    ) -> usize {
        self.parse_selected(file, bytes, |_| true, f)
    }

    /// [`Quarantine::parse_lines`] for the lines `select` picks (the others are not parsed).
    pub fn parse_selected<T: serde::de::DeserializeOwned>(
        &self,
        file: &Path,
        bytes: &[u8],
        select: impl Fn(&[u8]) -> bool,
        mut f: impl FnMut(T),
    ) -> usize {
        let mut torn = 0;
        let mut start = 0usize;
        for newline in memchr::memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len())) {
            let line = &bytes[start..newline];
            let offset = start as u64;
            start = newline + 1;
            if line.iter().all(u8::is_ascii_whitespace) || !select(line) {
                continue;
            }
            match serde_json::from_slice::<T>(line) {
                Ok(v) => f(v),
                Err(_) if newline == bytes.len() => torn += 1,
                Err(e) => {
                    self.keep(file, offset, line, &e.to_string());
                }
            }
        }
        torn
    }

    /// Lines kept aside since the last acknowledgement, in all, and the last error.
    pub fn counts(&self) -> (usize, usize, Option<String>) {
        let s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        (s.unacknowledged, s.total, s.last_error.clone())
    }

    /// Marks every kept line as seen by an admin (health returns to `ok`).
    pub fn acknowledge(&self) -> io::Result<usize> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.append(&Record::Acknowledged)?;
        Ok(std::mem::take(&mut s.unacknowledged))
    }

    /// Every kept line, oldest first (for the admin listing).
    pub fn lines(&self) -> io::Result<Vec<serde_json::Value>> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(bytes
            .split(|b| *b == b'\n')
            .filter_map(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
            .filter(|v| v.get("op").and_then(|o| o.as_str()) == Some("line"))
            .collect())
    }
}

impl crate::health::HealthSource for Quarantine {
    fn name(&self) -> &'static str {
        "quarantine"
    }

    /// Degraded while lines that could not be read back wait for an admin.
    fn report(&self) -> crate::health::ComponentReport {
        use crate::health::{ComponentReport, HealthStatus};
        let (open, total, last) = self.counts();
        let status = if open > 0 {
            HealthStatus::Degraded
        } else {
            HealthStatus::Ok
        };
        let mut r = ComponentReport::new(status)
            .with("unacknowledged", open)
            .with("total", total);
        if let (true, Some(e)) = (open > 0, last) {
            r = r.with("error", e);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_kept_once_torn_ones_are_counted_and_good_ones_pass() {
        let dir = tempfile::tempdir().expect("tempdir");
        let q = Quarantine::open(dir.path()).expect("open");
        let file = dir.path().join("j.jsonl");
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let bytes = format!("{{\"a\":1}}\n{deep}\n{{\"a\":\n{{\"a\":2}}\n{{\"a\"");
        let mut got = Vec::new();
        let torn = q.parse_lines::<serde_json::Value>(&file, bytes.as_bytes(), |v| got.push(v));
        assert_eq!(got.len(), 2);
        assert_eq!(torn, 1, "only the last line, with no newline, is torn");
        assert_eq!(q.counts().0, 2, "a line cut short mid-file is kept aside");
        q.parse_lines::<serde_json::Value>(&file, bytes.as_bytes(), |_| {});
        assert_eq!(q.counts().0, 2, "the same line is kept once");
        let again = Quarantine::open(dir.path()).expect("reopen");
        assert_eq!(again.counts().0, 2);
        let lines = again.lines().expect("lines");
        assert_eq!(lines[0]["line"], deep.as_str());
        assert_eq!(lines[1]["line"], "{\"a\":");
        assert_eq!(again.acknowledge().expect("ack"), 2);
        assert_eq!(Quarantine::open(dir.path()).expect("reopen").counts().0, 0);
    }
}
