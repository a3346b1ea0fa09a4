//! The outbox's storage role for reading and settling entries: [`OutboxStore`] (an open
//! entry, every open entry, the backlog and the queues' sizes, an admin's settle or
//! resend, and what a try came to). Two implementations: [`FileOutbox`] (this instance's
//! log, [`super::Outbox`]) and [`DbOutbox`] (the rows shared by every instance, a try's
//! result recorded only while this instance holds the call's claim). `startup/` picks one;
//! the gateway holds it.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use super::{AttemptLog, Entry, Outbox, Record, State};
use crate::db::outbox::{OpenCall, TryResult};
use crate::db::Db;
use crate::store::StoreError;

/// What a try came to, as the dispatcher records it.
#[derive(Debug, Clone)]
pub enum Tried {
    Sent {
        call_id: String,
    },
    DryRun,
    /// Certainly not taken; try `n + 1` after `delay`.
    Retry {
        n: u32,
        error: String,
        delay: std::time::Duration,
    },
    Failed {
        error: String,
    },
    Unconfirmed {
        error: String,
    },
    /// The calling window closed; the lead is back in the deferred queue as `queue_id`.
    Deferred {
        queue_id: String,
    },
}

/// The outbox's sizes: queued, in flight, unconfirmed, failed, and retrying (queued or in
/// flight after a refused try).
pub type Counts = [usize; 5];

/// The outbox, for reading and settling its entries.
pub trait OutboxStore: Send + Sync {
    /// An open entry.
    fn entry<'a>(&'a self, request_id: &'a str)
        -> BoxFuture<'a, Result<Option<Entry>, StoreError>>;
    /// Every open entry, oldest first.
    fn entries(&self) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>>;
    /// Accepted calls not yet handed to the provider (every instance's).
    fn backlog(&self) -> BoxFuture<'_, Result<usize, StoreError>>;
    /// Takes an unconfirmed or failed entry out: sent (with its call id when known) or not.
    fn settle<'a>(
        &'a self,
        request_id: &'a str,
        sent: bool,
        call_id: Option<String>,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Puts an unconfirmed entry back in the queue as try `n + 1`; false when it is not
    /// unconfirmed any more (settled or requeued meanwhile), so it is never queued twice.
    fn requeue<'a>(
        &'a self,
        request_id: &'a str,
        n: u32,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Records what a try came to.
    fn finish<'a>(
        &'a self,
        request_id: &'a str,
        at: DateTime<Utc>,
        tried: Tried,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Claims whose lease ran out by `at` (their instance stopped mid-send) become
    /// `unconfirmed`; their request ids. None with files: one process, whose restart
    /// finds its calls in flight (`Outbox::open`).
    fn expire_claims(&self, at: DateTime<Utc>) -> BoxFuture<'_, Result<Vec<String>, StoreError>>;
    /// The sizes as of the last [`OutboxStore::refresh`] (files: always current).
    fn counts(&self) -> Counts;
    /// Re-reads the sizes (nothing to do for files).
    fn refresh(&self) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Everything recorded is on disk (shutdown; rows are committed as they go).
    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// This instance's outbox log.
pub struct FileOutbox(pub Arc<Outbox>);

impl OutboxStore for FileOutbox {
    fn entry<'a>(
        &'a self,
        request_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Entry>, StoreError>> {
        Box::pin(async move { Ok(self.0.get(request_id)) })
    }

    fn entries(&self) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        Box::pin(async move { Ok(self.0.pending()) })
    }

    fn backlog(&self) -> BoxFuture<'_, Result<usize, StoreError>> {
        Box::pin(async move { Ok(self.0.backlog()) })
    }

    fn settle<'a>(
        &'a self,
        request_id: &'a str,
        sent: bool,
        call_id: Option<String>,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let record = Record::Resolved {
                request_id: request_id.into(),
                at,
                sent,
                call_id,
            };
            self.0.record(record).wait().await
        })
    }

    fn requeue<'a>(
        &'a self,
        request_id: &'a str,
        n: u32,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let retry = Record::Retry {
                request_id: request_id.into(),
                at,
                n,
                error: "resend requested by an admin".into(),
            };
            match self.0.record_if(retry, State::Unconfirmed) {
                Some(pending) => {
                    pending.wait().await?;
                    Ok(true)
                }
                None => Ok(false),
            }
        })
    }

    fn finish<'a>(
        &'a self,
        request_id: &'a str,
        at: DateTime<Utc>,
        tried: Tried,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let request_id = request_id.to_string();
        let record = match tried {
            Tried::Sent { call_id } => Record::Sent {
                request_id,
                at,
                call_id,
            },
            Tried::DryRun => Record::DryRun { request_id, at },
            Tried::Retry { n, error, .. } => Record::Retry {
                request_id,
                at,
                n,
                error,
            },
            Tried::Failed { error } => Record::Failed {
                request_id,
                at,
                error,
            },
            Tried::Unconfirmed { error } => Record::Unconfirmed {
                request_id,
                at,
                error,
            },
            Tried::Deferred { queue_id } => Record::Deferred {
                request_id,
                at,
                queue_id,
            },
        };
        Box::pin(async move { self.0.record(record).wait().await })
    }

    fn expire_claims(&self, _at: DateTime<Utc>) -> BoxFuture<'_, Result<Vec<String>, StoreError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn counts(&self) -> Counts {
        let entries = self.0.pending();
        let count = |s: State| entries.iter().filter(|e| e.state == s).count();
        let retrying = entries
            .iter()
            .filter(|e| e.state != State::Failed && e.state != State::Unconfirmed)
            .filter(|e| e.last_error.is_some())
            .count();
        [
            count(State::Queued),
            count(State::InFlight),
            count(State::Unconfirmed),
            count(State::Failed),
            retrying,
        ]
    }

    fn refresh(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        let flushed = self.0.flush();
        Box::pin(async move { flushed.wait().await })
    }
}

/// The outbox rows shared by every instance; this instance's claims under `holder`.
pub struct DbOutbox {
    db: Db,
    holder: String,
    counts: Mutex<Counts>,
}

impl DbOutbox {
    pub fn new(db: Db) -> Self {
        Self {
            holder: db.holder.clone(),
            db,
            counts: Mutex::new(Counts::default()),
        }
    }
}

fn entry_of(c: OpenCall) -> Entry {
    let state = match c.state.as_str() {
        "queued" => State::Queued,
        "in_flight" => State::InFlight,
        "failed" => State::Failed,
        _ => State::Unconfirmed,
    };
    let attempts = c
        .attempts
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| {
                    let at = t.get("at")?.as_str()?;
                    Some(AttemptLog {
                        n: u32::try_from(t.get("n")?.as_u64()?).ok()?,
                        at: DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
                        error: t.get("error").and_then(|e| e.as_str()).map(str::to_string),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Entry {
        request_id: c.request_id,
        lead_id: c.lead_id,
        phone: c.phone,
        state,
        queued_at: c.queued_at,
        attempts,
        last_error: c.last_error,
        body: c.body,
    }
}

impl OutboxStore for DbOutbox {
    fn entry<'a>(
        &'a self,
        request_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Entry>, StoreError>> {
        Box::pin(async move { Ok(self.db.open_call(request_id).await?.map(entry_of)) })
    }

    fn entries(&self) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        Box::pin(async move {
            let calls = self.db.open_calls().await?;
            Ok(calls.into_iter().map(entry_of).collect())
        })
    }

    fn backlog(&self) -> BoxFuture<'_, Result<usize, StoreError>> {
        Box::pin(async move {
            let counts = self.db.outbox_counts().await?;
            Ok(usize::try_from(counts[0]).unwrap_or(0))
        })
    }

    fn settle<'a>(
        &'a self,
        request_id: &'a str,
        sent: bool,
        call_id: Option<String>,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let sent_as = sent.then(|| call_id.unwrap_or_default());
            self.db
                .settle_call(request_id, sent_as.as_deref(), at)
                .await?;
            Ok(())
        })
    }

    fn requeue<'a>(
        &'a self,
        request_id: &'a str,
        _n: u32,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move { Ok(self.db.requeue_call(request_id, at).await?) })
    }

    fn finish<'a>(
        &'a self,
        request_id: &'a str,
        at: DateTime<Utc>,
        tried: Tried,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let result = match tried {
            Tried::Sent { call_id } => TryResult::Sent { call_id },
            Tried::DryRun => TryResult::DryRun,
            Tried::Retry { error, delay, .. } => TryResult::Retry {
                error,
                next_try_at: at
                    + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::zero()),
            },
            Tried::Failed { error } => TryResult::Failed { error },
            Tried::Unconfirmed { error } => TryResult::Unconfirmed { error },
            Tried::Deferred { .. } => TryResult::Deferred,
        };
        Box::pin(async move {
            if self
                .db
                .record_try(request_id, &self.holder, &result, at)
                .await?
            {
                Ok(())
            } else {
                Err(StoreError::Io(std::io::Error::other(
                    "the claim on this call expired before its result was recorded; it is unconfirmed",
                )))
            }
        })
    }

    fn expire_claims(&self, at: DateTime<Utc>) -> BoxFuture<'_, Result<Vec<String>, StoreError>> {
        Box::pin(async move { Ok(self.db.expire_claims(at).await?) })
    }

    fn counts(&self) -> Counts {
        *self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn refresh(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let counts = self.db.outbox_counts().await?;
            let counts = counts.map(|n| usize::try_from(n).unwrap_or(0));
            *self.counts.lock().unwrap_or_else(PoisonError::into_inner) = counts;
            Ok(())
        })
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
