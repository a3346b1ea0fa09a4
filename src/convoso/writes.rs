//! The durable outbox of writes to Convoso. Each write has an id of ours derived from what
//! caused it (`lead_<call_id>`, `dnc_<call_id>`, `block_<request_id>`), so the same outcome
//! queues it once; it is on disk (or committed) before the webhook that caused it is
//! answered, tried until Convoso has it, retried with backoff on network errors, 5xx, 429
//! and "try again" answers, and kept for an admin once refused for good or out of tries.
//!
//! File backend: `DATA_DIR/convoso/writes.jsonl`, one line per change of a write holding
//! the whole write (the last line of an id wins), rewritten at startup with only the open
//! ones. A write interrupted mid-send is tried again after a restart: a lead update and a
//! DNC insert are idempotent at Convoso ("already exists" counts as done).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::Sent;
use crate::config::convoso::ConvosoSettings;
use crate::journal::records::{millis, millis_opt};
use crate::store::appender::Appender;
use crate::store::quarantine::Quarantine;

pub const WRITES_DIR: &str = "convoso";
pub const WRITES_FILE: &str = "writes.jsonl";
const WRITES_ASIDE: &str = "writes.jsonl.compacting";

/// Retries are at most this far apart.
const MAX_BACKOFF_SECS: i64 = 600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteKind {
    LeadUpdate,
    DncInsert,
}

impl WriteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LeadUpdate => "lead_update",
            Self::DncInsert => "dnc_insert",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteState {
    Queued,
    /// Tried and failed; tried again at `next_at`.
    Failing,
    /// Refused for good, or out of tries: waits for an admin's retry.
    GaveUp,
    Done,
    /// Set aside by an admin.
    Dismissed,
}

impl WriteState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Failing => "failing",
            Self::GaveUp => "gave_up",
            Self::Done => "done",
            Self::Dismissed => "dismissed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Write {
    pub id: String,
    pub kind: WriteKind,
    pub call_id: Option<String>,
    pub lead_id: Option<String>,
    pub phone: Option<String>,
    /// The fields sent (the auth token is added at send time, never stored).
    pub params: BTreeMap<String, String>,
    pub state: WriteState,
    #[serde(with = "millis")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "millis")]
    pub next_at: DateTime<Utc>,
    pub attempts: u32,
    /// When the first failed try of the current run of failures was.
    #[serde(default, with = "millis_opt")]
    pub failing_since: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// `ok`, `dry_run`, or Convoso's note ("already exists").
    pub result: Option<String>,
    #[serde(default, with = "millis_opt")]
    pub done_at: Option<DateTime<Utc>>,
}

impl Write {
    pub fn new(
        id: String,
        kind: WriteKind,
        params: BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            kind,
            call_id: None,
            lead_id: None,
            phone: None,
            params,
            state: WriteState::Queued,
            created_at: now,
            next_at: now,
            attempts: 0,
            failing_since: None,
            last_error: None,
            result: None,
            done_at: None,
        }
    }

    /// Still Convoso's to take (or an admin's to act on).
    pub fn is_open(&self) -> bool {
        matches!(
            self.state,
            WriteState::Queued | WriteState::Failing | WriteState::GaveUp
        )
    }

    /// Records one try's result (`None`: dry-run, logged not sent).
    pub fn settle(&mut self, sent: Option<&Sent>, now: DateTime<Utc>, c: &ConvosoSettings) {
        self.attempts += 1;
        match sent {
            None => self.finish("dry_run".into(), now),
            Some(Sent::Done { note }) => {
                self.finish(note.clone().unwrap_or_else(|| "ok".into()), now)
            }
            Some(Sent::Final(e)) => {
                self.state = WriteState::GaveUp;
                self.failing_since.get_or_insert(now);
                self.last_error = Some(e.clone());
            }
            Some(Sent::Retry(e)) => {
                self.failing_since.get_or_insert(now);
                self.last_error = Some(e.clone());
                if self.attempts >= c.max_attempts {
                    self.state = WriteState::GaveUp;
                    self.last_error = Some(format!("{e} (gave up after {} tries)", self.attempts));
                } else {
                    self.state = WriteState::Failing;
                    let exp = self.attempts.saturating_sub(1).min(20);
                    let ms = c.retry_base_ms.saturating_mul(1u64 << exp) as i64;
                    self.next_at = now + TimeDelta::milliseconds(ms.min(MAX_BACKOFF_SECS * 1000));
                }
            }
        }
    }

    fn finish(&mut self, result: String, now: DateTime<Utc>) {
        self.state = WriteState::Done;
        self.result = Some(result);
        self.done_at = Some(now);
        self.failing_since = None;
    }

    /// An admin's retry: due now, with a fresh run of tries.
    pub fn requeue(&mut self, now: DateTime<Utc>) {
        self.state = WriteState::Queued;
        self.next_at = now;
        self.attempts = 0;
        self.failing_since = None;
    }
}

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
    pub async fn enqueue(&self, w: Write) -> io::Result<bool> {
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
    pub fn due(&self, now: DateTime<Utc>, limit: usize) -> Vec<Write> {
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
    pub async fn save(&self, w: &Write) -> io::Result<()> {
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
    pub fn list(&self) -> Vec<Write> {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<Write> = open.values().cloned().collect();
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        all
    }

    pub fn get(&self, id: &str) -> Option<Write> {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// True while the sender holds `id`.
    pub fn is_taken(&self, id: &str) -> bool {
        self.taken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn retries_back_off_then_give_up_and_final_answers_give_up_at_once() {
        let c = ConvosoSettings {
            max_attempts: 3,
            retry_base_ms: 1000,
            ..ConvosoSettings::default()
        };
        let t0: DateTime<Utc> = "2026-11-23T15:00:00Z".parse().expect("t");
        let mut w = Write::new("lead_c".into(), WriteKind::LeadUpdate, BTreeMap::new(), t0);
        w.settle(Some(&Sent::Retry("HTTP 503".into())), t0, &c);
        assert_eq!(
            (w.state, w.next_at),
            (WriteState::Failing, t0 + TimeDelta::seconds(1))
        );
        w.settle(Some(&Sent::Retry("HTTP 503".into())), t0, &c);
        assert_eq!(w.next_at, t0 + TimeDelta::seconds(2));
        w.settle(Some(&Sent::Retry("HTTP 503".into())), t0, &c);
        assert_eq!(w.state, WriteState::GaveUp);
        assert_eq!(w.failing_since, Some(t0));
        w.requeue(t0);
        w.settle(Some(&Sent::Done { note: None }), t0, &c);
        assert_eq!(
            (w.state, w.result.as_deref()),
            (WriteState::Done, Some("ok"))
        );
        let mut f = Write::new("dnc_c".into(), WriteKind::DncInsert, BTreeMap::new(), t0);
        f.settle(Some(&Sent::Final("code 6007".into())), t0, &c);
        assert_eq!(f.state, WriteState::GaveUp);
    }
}
