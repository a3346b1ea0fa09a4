//! The durable outbox (`DATA_DIR/outbox/outbox.jsonl`): an accepted lead's call body is on
//! disk before the webhook is answered, and every send is preceded by a durable `attempt`
//! record. After a crash an entry whose last record is `queued` or `retry` is sent; one
//! whose last record is `attempt` was interrupted mid-send and becomes `unconfirmed` —
//! Bland may have it, so it waits for an admin instead of being sent twice. At startup the
//! file is rewritten with only the entries still open.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod replay;
pub mod store;

pub use store::{OutboxStore, Tried};

use crate::clock::millis;
use crate::store::appender::{Appender, Pending};
use crate::store::quarantine::Quarantine;

pub const OUTBOX_DIR: &str = "outbox";
pub const OUTBOX_FILE: &str = "outbox.jsonl";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Record {
    Queued {
        request_id: String,
        #[serde(with = "millis")]
        at: DateTime<Utc>,
        lead_id: String,
        phone: String,
        body: Value,
    },
    Attempt {
        request_id: String,
        #[serde(with = "millis")]
        at: DateTime<Utc>,
        n: u32,
    },
    Retry {
        request_id: String,
        #[serde(with = "millis")]
        at: DateTime<Utc>,
        n: u32,
        error: String,
    },
    Sent {
        request_id: String,
        #[serde(with = "millis")]
        at: DateTime<Utc>,
        call_id: String,
    },
    Failed {
        request_id: String,
        #[serde(with = "millis")]
        at: DateTime<Utc>,
        error: String,
    },
    Unconfirmed {
        request_id: String,
        #[serde(with = "millis")]
        at: DateTime<Utc>,
        error: String,
    },
    DryRun {
        request_id: String,
        #[serde(with = "millis")]
        at: DateTime<Utc>,
    },
    Resolved {
        request_id: String,
        #[serde(with = "millis")]
        at: DateTime<Utc>,
        sent: bool,
        call_id: Option<String>,
    },
    /// Not sent: the calling window closed first; the lead is back in the deferred queue.
    Deferred {
        request_id: String,
        #[serde(with = "millis")]
        at: DateTime<Utc>,
        queue_id: String,
    },
    /// When the tries of the last [`TRIES_KEPT_SECS`] started (milliseconds), written by
    /// the startup rewrite for the calling budgets: the count is the last such record's
    /// list and every `attempt` after it.
    Tries { at_ms: Vec<i64> },
}

/// How far back the startup rewrite keeps the instants of tries (a business day may last
/// 25 hours).
pub const TRIES_KEPT_SECS: i64 = 26 * 3600;

impl Record {
    pub fn request_id(&self) -> &str {
        match self {
            Self::Queued { request_id, .. }
            | Self::Attempt { request_id, .. }
            | Self::Retry { request_id, .. }
            | Self::Sent { request_id, .. }
            | Self::Failed { request_id, .. }
            | Self::Unconfirmed { request_id, .. }
            | Self::DryRun { request_id, .. }
            | Self::Resolved { request_id, .. }
            | Self::Deferred { request_id, .. } => request_id,
            Self::Tries { .. } => "",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Queued,
    InFlight,
    Unconfirmed,
    /// Bland certainly did not take it and the retries are spent (or it refused the call):
    /// kept until an admin resends (through the pipeline again) or cancels it.
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttemptLog {
    pub n: u32,
    #[serde(with = "millis")]
    pub at: DateTime<Utc>,
    pub error: Option<String>,
}

/// An open outbox entry, as shown to admins.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub request_id: String,
    pub lead_id: String,
    pub phone: String,
    pub state: State,
    #[serde(with = "millis")]
    pub queued_at: DateTime<Utc>,
    pub attempts: Vec<AttemptLog>,
    pub last_error: Option<String>,
    #[serde(skip)]
    pub body: Value,
}

/// A queued entry about to be tried.
#[derive(Debug, Clone)]
pub struct NextAttempt {
    pub body: Value,
    /// This try's number, from 1.
    pub n: u32,
    pub lead_id: String,
    pub phone: String,
    /// When the first try was made (the retry budget counts from it).
    pub first_try: Option<DateTime<Utc>>,
}

pub struct Outbox {
    log: Appender,
    entries: Mutex<HashMap<String, Entry>>,
    /// Every request id the log held at startup, finished ones included: a deferred lead
    /// whose release was cut short is settled by whether its call reached the outbox.
    seen: std::collections::HashSet<String>,
    /// When the tries of the last [`TRIES_KEPT_SECS`] before startup started.
    tries: Vec<DateTime<Utc>>,
}

impl Outbox {
    /// Replays the outbox; returns it and the ids to send now (oldest first).
    pub fn open(
        data_dir: &Path,
        now: DateTime<Utc>,
        quarantine: &Quarantine,
    ) -> io::Result<(Self, Vec<String>)> {
        let dir = data_dir.join(OUTBOX_DIR);
        std::fs::create_dir_all(&dir)?;
        let path: PathBuf = dir.join(OUTBOX_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut entries = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        let mut tries = Vec::new();
        let torn = quarantine.parse_lines::<Record>(&path, &bytes, |record| {
            match &record {
                Record::Queued { request_id, .. } => {
                    seen.insert(request_id.clone());
                }
                Record::Attempt { at, .. } => tries.push(*at),
                Record::Tries { at_ms } => {
                    tries.clear();
                    tries.extend(
                        at_ms
                            .iter()
                            .filter_map(|ms| DateTime::from_timestamp_millis(*ms)),
                    );
                }
                _ => {}
            }
            replay::apply(&mut entries, record)
        });
        tries.retain(|t| (now - *t).num_seconds() < TRIES_KEPT_SECS);
        tries.sort_unstable();
        if torn > 0 {
            tracing::warn!(torn, "skipped a torn last outbox line (crash mid-write)");
        }
        // A send that was under way when the process stopped may have reached Bland.
        for e in entries.values_mut().filter(|e| e.state == State::InFlight) {
            e.state = State::Unconfirmed;
            e.last_error = Some(
                "the gateway stopped while this call was being sent; Bland may have it".into(),
            );
        }
        let mut open: Vec<&Entry> = entries.values().collect();
        open.sort_by_key(|e| e.queued_at);
        let mut rewritten = replay::rewrite(&open, now);
        let kept = Record::Tries {
            at_ms: tries.iter().map(|t| t.timestamp_millis()).collect(),
        };
        rewritten.extend(replay::line(&kept));
        rewritten.push(b'\n');
        crate::store::write_atomic(&path, &rewritten)?;
        let ready = open
            .iter()
            .filter(|e| e.state == State::Queued)
            .map(|e| e.request_id.clone())
            .collect();
        let log = Appender::open(&path)?;
        Ok((
            Self {
                log,
                entries: Mutex::new(entries),
                seen,
                tries,
            },
            ready,
        ))
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a change (in memory now, on disk when the returned wait resolves).
    pub fn record(&self, record: Record) -> Pending {
        let mut entries = self.entries();
        let pending = self.log.append(replay::line(&record));
        replay::apply(&mut entries, record);
        pending
    }

    /// Records `record` only if its entry is in state `when` (a compare-and-set).
    pub fn record_if(&self, record: Record, when: State) -> Option<Pending> {
        let mut entries = self.entries();
        if entries.get(record.request_id()).map(|e| e.state) != Some(when) {
            return None;
        }
        let pending = self.log.append(replay::line(&record));
        replay::apply(&mut entries, record);
        Some(pending)
    }

    /// When the tries of the last [`TRIES_KEPT_SECS`] before startup started, oldest
    /// first (the calling budgets' count after a restart).
    pub fn tries_before_startup(&self) -> &[DateTime<Utc>] {
        &self.tries
    }

    /// What the next try of a queued entry needs.
    pub fn next_attempt(&self, request_id: &str) -> Option<NextAttempt> {
        let entries = self.entries();
        let e = entries
            .get(request_id)
            .filter(|e| e.state == State::Queued)?;
        Some(NextAttempt {
            body: e.body.clone(),
            n: e.attempts.len() as u32 + 1,
            lead_id: e.lead_id.clone(),
            phone: e.phone.clone(),
            first_try: e.attempts.first().map(|a| a.at),
        })
    }

    /// Whether the outbox held `request_id` at startup, or holds it now.
    pub fn has_seen(&self, request_id: &str) -> bool {
        self.seen.contains(request_id) || self.entries().contains_key(request_id)
    }

    /// Accepted calls not yet handed to Bland.
    pub fn backlog(&self) -> usize {
        self.entries()
            .values()
            .filter(|e| e.state == State::Queued)
            .count()
    }

    pub fn get(&self, request_id: &str) -> Option<Entry> {
        self.entries().get(request_id).cloned()
    }

    /// Open entries, oldest first.
    pub fn pending(&self) -> Vec<Entry> {
        let mut all: Vec<Entry> = self.entries().values().cloned().collect();
        all.sort_by_key(|e| e.queued_at);
        all
    }

    pub fn flush(&self) -> Pending {
        self.log.flush()
    }
}

#[cfg(test)]
mod tests;
