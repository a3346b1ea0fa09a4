//! [`FileWrites`]: the Convoso writes as a log in `DATA_DIR/convoso/writes.jsonl`.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use super::{Write, WriteState, WriteStore};
use crate::store::appender::Appender;
use crate::store::quarantine::Quarantine;
use crate::store::StoreError;

pub const WRITES_DIR: &str = "convoso";
pub const WRITES_FILE: &str = "writes.jsonl";
const WRITES_ASIDE: &str = "writes.jsonl.compacting";

/// The file backend's writes.
pub struct FileWrites {
    log: Appender,
    /// The open writes. A change is applied here and its line enqueued in one critical
    /// section, so a compaction's snapshot (taken under this lock) is never older than a
    /// line already in the log.
    open: Mutex<HashMap<String, Write>>,
    /// Taken by the sender and not yet settled.
    taken: Mutex<HashSet<String>>,
    /// Lines appended since the last compaction.
    lines: std::sync::atomic::AtomicUsize,
    /// Where the log is moved while a compaction writes the open writes anew.
    aside: PathBuf,
    compact_every: usize,
}

/// The log is rewritten with only the open writes after this many lines (each line holds
/// a whole write, transcript included, so the log would otherwise grow by every call).
pub const COMPACT_EVERY: usize = 10_000;

impl FileWrites {
    /// Replays the log, keeps the open writes and rewrites the file with only them.
    pub fn open(data_dir: &Path, quarantine: &Quarantine) -> io::Result<Self> {
        let dir = data_dir.join(WRITES_DIR);
        std::fs::create_dir_all(&dir)?;
        let path: PathBuf = dir.join(WRITES_FILE);
        let aside = dir.join(WRITES_ASIDE);
        let mut last: HashMap<String, Write> = HashMap::new();
        // A compaction cut short leaves the history aside: it is read first.
        for file in [&aside, &path] {
            let bytes = match std::fs::read(file) {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let torn = quarantine.parse_lines::<Write>(file, &bytes, |w| {
                last.insert(w.id.clone(), w);
            });
            if torn > 0 {
                tracing::warn!(torn, file = %file.display(), "skipped a torn last Convoso write line (crash mid-write)");
            }
        }
        last.retain(|_, w| w.is_open());
        let mut kept: Vec<&Write> = last.values().collect();
        kept.sort_by_key(|w| w.created_at);
        let mut text = Vec::new();
        for w in kept {
            text.extend(serde_json::to_vec(w).map_err(io::Error::other)?);
            text.push(b'\n');
        }
        crate::store::write_atomic(&path, &text)?;
        match std::fs::remove_file(&aside) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        Ok(Self {
            log: Appender::open(&path)?,
            open: Mutex::new(last),
            taken: Mutex::new(HashSet::new()),
            lines: std::sync::atomic::AtomicUsize::new(0),
            aside,
            compact_every: COMPACT_EVERY,
        })
    }

    /// Compacts after `n` lines instead of [`COMPACT_EVERY`] (tests).
    pub fn with_compact_every(mut self, n: usize) -> Self {
        self.compact_every = n.max(1);
        self
    }

    fn line(w: &Write) -> io::Result<Vec<u8>> {
        serde_json::to_vec(w).map_err(io::Error::other)
    }

    /// Queues `w` unless a write with its id is open; true when queued (durable on return).
    async fn enqueue(&self, w: Write) -> crate::store::StoreResult<bool> {
        let line = Self::line(&w)?;
        let pending = {
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            if open.contains_key(&w.id) {
                return Ok(false);
            }
            open.insert(w.id.clone(), w.clone());
            self.log.append(line)
        };
        if let Err(e) = pending.wait().await {
            self.open
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&w.id);
            return Err(e);
        }
        self.appended().await;
        Ok(true)
    }

    /// Up to `limit` writes due at `now`, taken for sending.
    fn due(&self, now: DateTime<Utc>, limit: usize) -> Vec<Write> {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        let mut due: Vec<Write> = open
            .values()
            .filter(|w| {
                matches!(w.state, WriteState::Queued | WriteState::Failing)
                    && w.next_at <= now
                    && !taken.contains(&w.id)
            })
            .cloned()
            .collect();
        due.sort_by_key(|w| w.next_at);
        due.truncate(limit);
        for w in &due {
            taken.insert(w.id.clone());
        }
        due
    }

    /// Records a write's new state (durable on return) and releases it.
    async fn save(&self, w: &Write) -> crate::store::StoreResult<()> {
        let line = Self::line(w);
        let pending = line.map(|line| {
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            if w.is_open() {
                open.insert(w.id.clone(), w.clone());
            } else {
                open.remove(&w.id);
            }
            self.log.append(line)
        });
        self.taken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&w.id);
        pending?.wait().await?;
        self.appended().await;
        Ok(())
    }

    /// Counts a line; past [`COMPACT_EVERY`], rewrites the log with only the open writes:
    /// the log is moved aside (synced), the open writes are written to a new one, and the
    /// old one is removed once they are on disk (a crash in between: both are read).
    async fn appended(&self) {
        use std::sync::atomic::Ordering;
        if self.lines.fetch_add(1, Ordering::Relaxed) + 1 < self.compact_every {
            return;
        }
        self.lines.store(0, Ordering::Relaxed);
        let (rotated, written) = {
            let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            let rotated = self.log.rotate(self.aside.clone());
            let mut all: Vec<&Write> = open.values().collect();
            all.sort_by_key(|w| w.created_at);
            let lines: Vec<Vec<u8>> = all.iter().filter_map(|w| Self::line(w).ok()).collect();
            let written: Vec<_> = lines.into_iter().map(|l| self.log.append(l)).collect();
            (rotated, written)
        };
        let mut ok = rotated.wait().await.is_ok();
        for p in written {
            ok &= p.wait().await.is_ok();
        }
        if ok {
            if let Err(e) = std::fs::remove_file(&self.aside) {
                tracing::warn!(error = %e, "cannot remove the Convoso writes log set aside");
            }
        } else {
            tracing::error!(
                "compacting the Convoso writes log failed; both files are kept and read at startup"
            );
        }
    }

    /// The open writes, oldest first.
    fn list(&self) -> Vec<Write> {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<Write> = open.values().cloned().collect();
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        all
    }

    fn get(&self, id: &str) -> Option<Write> {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// True while the sender holds `id`.
    fn is_taken(&self, id: &str) -> bool {
        self.taken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(id)
    }
}

impl WriteStore for FileWrites {
    fn enqueue(&self, w: Write) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move { FileWrites::enqueue(self, w).await })
    }

    fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<Write>, StoreError>> {
        let due = self.due(now, limit);
        Box::pin(async move { Ok(due) })
    }

    fn save<'a>(&'a self, w: &'a Write) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { FileWrites::save(self, w).await })
    }

    fn open_writes(&self) -> BoxFuture<'_, Result<Vec<Write>, StoreError>> {
        let all = self.list();
        Box::pin(async move { Ok(all) })
    }

    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Write>, StoreError>> {
        let w = FileWrites::get(self, id);
        Box::pin(async move { Ok(w) })
    }

    fn is_taken(&self, id: &str) -> bool {
        FileWrites::is_taken(self, id)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::convoso::ConvosoSettings;
    use crate::convoso::{Sent, WriteKind};

    #[tokio::test]
    async fn the_log_is_compacted_to_the_open_writes_and_replays_the_same() {
        let dir = tempfile::tempdir().expect("dir");
        let q = Quarantine::open(dir.path()).expect("quarantine");
        let t0: DateTime<Utc> = "2026-11-23T15:00:00Z".parse().expect("t");
        let c = ConvosoSettings::default();
        let writes = FileWrites::open(dir.path(), &q)
            .expect("open")
            .with_compact_every(7);
        for i in 0..10 {
            let w = Write::new(
                format!("lead_{i}"),
                WriteKind::LeadUpdate,
                BTreeMap::new(),
                t0,
            );
            assert!(writes.enqueue(w).await.expect("enqueue"));
        }
        // Half done: their lines stay in the log until a compaction drops them.
        for mut w in writes.due(t0, 5) {
            w.settle(Some(&Sent::Done { note: None }), t0, &c);
            writes.save(&w).await.expect("save");
        }
        let path = dir.path().join(WRITES_DIR).join(WRITES_FILE);
        let lines = std::fs::read_to_string(&path).expect("log").lines().count();
        assert!(lines < 15, "compacted at least once: {lines} lines");
        assert!(!dir.path().join(WRITES_DIR).join(WRITES_ASIDE).exists());
        let open: Vec<String> = writes.list().into_iter().map(|w| w.id).collect();
        drop(writes);
        let again = FileWrites::open(dir.path(), &q).expect("reopen");
        let replayed: Vec<String> = again.list().into_iter().map(|w| w.id).collect();
        assert_eq!(replayed, open);
        assert_eq!(replayed.len(), 5);
    }
}
