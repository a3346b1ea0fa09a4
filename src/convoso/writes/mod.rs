//! The durable outbox of writes to Convoso. Each write has an id of ours derived from what
//! caused it (`lead_<call_id>`, `dnc_<call_id>`, `block_<request_id>`), so the same outcome
//! queues it once; it is on disk (or committed) before the webhook that caused it is
//! answered, tried until Convoso has it, retried with backoff on network errors, 5xx, 429
//! and "try again" answers, and kept for an admin once refused for good or out of tries.
//!
//! The storage role is [`WriteStore`]: [`FileWrites`] (`file.rs`: `DATA_DIR/convoso/
//! writes.jsonl`, one line per change of a write holding the whole write, the last line of
//! an id wins, rewritten with only the open ones at startup and every [`COMPACT_EVERY`]
//! lines) and [`DbWrites`] (`rows.rs`: the `convoso_writes` table, claimed with a lease so
//! two instances never send one write at once). `startup/` picks one. A write interrupted
//! mid-send is tried again after a restart: a lead update and a DNC insert are idempotent
//! at Convoso ("already exists" counts as done).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::Sent;
use crate::clock::{millis, millis_opt};
use crate::config::convoso::ConvosoSettings;
use crate::store::StoreError;

mod file;
mod rows;

pub use file::{FileWrites, COMPACT_EVERY, WRITES_DIR, WRITES_FILE};
pub use rows::DbWrites;

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

/// The Convoso writes' storage role. Every change is durable (synced, or committed)
/// before the call returns.
pub trait WriteStore: Send + Sync {
    /// Queues `w` unless a write with its id exists; true when queued.
    fn enqueue(&self, w: Write) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Up to `limit` open writes due at `now`, oldest due first, taken for sending (no
    /// other sender gets them until they are saved).
    fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<Write>, StoreError>>;
    /// Records a write's new state and releases it.
    fn save<'a>(&'a self, w: &'a Write) -> BoxFuture<'a, Result<(), StoreError>>;
    /// The open writes (queued, failing, given up), oldest first.
    fn open_writes(&self) -> BoxFuture<'_, Result<Vec<Write>, StoreError>>;
    /// The write `id` while it is open (a closed one may be gone).
    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Write>, StoreError>>;
    /// True while a sender of this process holds `id` (an admin's change waits for it).
    fn is_taken(&self, id: &str) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    fn ids(writes: &[Write]) -> Vec<&str> {
        writes.iter().map(|w| w.id.as_str()).collect()
    }

    /// One set of behaviour checks for every [`WriteStore`].
    async fn behaves(store: &dyn WriteStore) {
        let c = ConvosoSettings {
            retry_base_ms: 1000,
            ..ConvosoSettings::default()
        };
        let t0 = t("2026-11-23T15:00:00Z");
        let first = Write::new("lead_a".into(), WriteKind::LeadUpdate, BTreeMap::new(), t0);
        let later = Write::new(
            "dnc_b".into(),
            WriteKind::DncInsert,
            BTreeMap::new(),
            t0 + TimeDelta::seconds(1),
        );
        assert!(store.enqueue(first.clone()).await.expect("enqueue"));
        assert!(!store.enqueue(first).await.expect("again"), "queued once");
        assert!(store.enqueue(later).await.expect("enqueue"));
        // Only what is due, and once: a taken write is not handed out again.
        let due = store.take_due(t0, 10).await.expect("due");
        assert_eq!(ids(&due), ["lead_a"]);
        assert!(store.take_due(t0, 10).await.expect("due").is_empty());
        let open = store.open_writes().await.expect("open");
        assert_eq!(ids(&open), ["lead_a", "dnc_b"], "oldest first");
        // Done: no longer open.
        let mut a = due.into_iter().next().expect("one");
        a.settle(Some(&Sent::Done { note: None }), t0, &c);
        store.save(&a).await.expect("save");
        assert_eq!(store.get("lead_a").await.expect("get"), None);
        // Failing: open, due again after its backoff, with the error kept.
        let t1 = t0 + TimeDelta::seconds(1);
        let mut b = store.take_due(t1, 10).await.expect("due").remove(0);
        b.settle(Some(&Sent::Retry("HTTP 503".into())), t1, &c);
        store.save(&b).await.expect("save");
        let got = store.get("dnc_b").await.expect("get").expect("open");
        assert_eq!(
            (got.state, got.next_at, got.last_error.as_deref()),
            (
                WriteState::Failing,
                t1 + TimeDelta::seconds(1),
                Some("HTTP 503")
            )
        );
        assert!(store.take_due(t1, 10).await.expect("due").is_empty());
        let again = store
            .take_due(t1 + TimeDelta::seconds(1), 10)
            .await
            .expect("due");
        assert_eq!(ids(&again), ["dnc_b"]);
        assert_eq!(ids(&store.open_writes().await.expect("open")), ["dnc_b"]);
    }

    #[tokio::test]
    async fn files_behave_as_a_write_store() {
        let dir = tempfile::tempdir().expect("dir");
        let q = crate::store::quarantine::Quarantine::open(dir.path()).expect("quarantine");
        let store = FileWrites::open(dir.path(), &q).expect("open");
        behaves(&store).await;
        drop(store);
        // Replayed after a restart: the open write, as it was last saved.
        let again = FileWrites::open(dir.path(), &q).expect("reopen");
        let open = WriteStore::open_writes(&again).await.expect("open");
        assert_eq!(ids(&open), ["dnc_b"]);
        assert_eq!(open[0].state, WriteState::Failing);
    }

    #[tokio::test]
    async fn rows_behave_as_a_write_store() {
        let Some(test) = crate::db::scratch::Scratch::create().await else {
            return;
        };
        let db = crate::db::Db::connect(&test.url, 2).await.expect("connect");
        behaves(&DbWrites::new(db.clone())).await;
        db.pool.close().await;
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
