//! The deferred queue's storage role: [`DeferredStore`] (put a lead in the queue outside
//! a decision, read and page it, make entries due, take them out with their `dequeued`
//! journal line, and claim them for release). Two implementations: [`FileDeferred`] (this
//! instance's queue log, [`DeferredQueue`], with the call journal beside it) and
//! [`DbDeferred`] (rows shared by every instance, claimed under this instance's name; a
//! removal and its journal line commit together). `startup/` picks one; the gateway holds
//! it. A decision that releases an entry finishes it inside the decision (`Gateway::decide`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::{join_all, BoxFuture};

use crate::journal::{CallEvent, Journals};
use crate::schedule::queue::{Deferral, DeferredQueue, Entry, Removal};
use crate::store::StoreError;

mod rows;
pub(crate) use rows::first_deferral;
pub use rows::{entry_of, DbDeferred};

/// The queue's rows, entries due, and its oldest first deferral.
pub type Summary = (usize, usize, Option<DateTime<Utc>>);

/// A page of the queue (how many match, the page) and the queue's summary.
pub type Page = ((usize, Vec<Entry>), Summary);

/// What claiming one entry for release found.
pub enum Claim {
    /// Claimed: `releasing` holds the request id its release uses.
    Claimed(Box<Entry>),
    /// Another release has it.
    Busy,
    Missing,
}

/// The deferred queue.
pub trait DeferredStore: Send + Sync {
    /// Puts a lead in the queue outside a decision; the entry's id.
    fn defer<'a>(&'a self, d: Deferral<'a>) -> BoxFuture<'a, Result<String, StoreError>>;
    /// One entry.
    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Entry>, StoreError>>;
    /// Entries matching the filters, by release time, with the queue's summary.
    fn page<'a>(
        &'a self,
        lead_id: Option<&'a str>,
        phone: Option<&'a str>,
        offset: usize,
        limit: usize,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Page, StoreError>>;
    /// The entries of one lead and number.
    fn of_lead<'a>(
        &'a self,
        lead_id: &'a str,
        phone: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Entry>, StoreError>>;
    /// Makes every entry due at `at`; how many entries that covers.
    fn hurry_all(&self, at: DateTime<Utc>) -> BoxFuture<'_, Result<usize, StoreError>>;
    /// Makes the entries for `phone` deferred by `stage` due at `at`; how many.
    fn hurry_phone<'a>(
        &'a self,
        phone: &'a str,
        stage: &'a str,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<usize, StoreError>>;
    /// Up to `limit` entries first deferred by `cutoff` and not being released.
    fn expired(
        &self,
        cutoff: DateTime<Utc>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>>;
    /// Takes `e` out with its `dequeued` journal line `event` (journaled first with files;
    /// one commit with rows); false when it is being released or gone.
    fn dequeue<'a>(
        &'a self,
        e: &'a Entry,
        event: &'a CallEvent,
        why: Removal,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Claims up to `limit` due entries for release, durably, each marked with the request
    /// id its release uses; the claim lasts `lease` where another instance could take it.
    fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: chrono::Duration,
    ) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>>;
    /// Claims the entry `id` for release (an admin's release now).
    fn claim<'a>(
        &'a self,
        id: &'a str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>>;
    /// Releases whose instance stopped mid-decision (their claim ran out), now claimed by
    /// this instance to be decided again; none with files (a restart settles them).
    fn adopt_stale(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>>;
    /// Gives a claimed entry back after its release failed (it is released again later).
    fn give_back<'a>(&'a self, e: &'a Entry) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Ends a claimed release without a decision (the lead no longer parses): removed.
    fn drop_release<'a>(
        &'a self,
        e: &'a Entry,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// The summary as of the last [`DeferredStore::refresh`] (files: always current).
    fn summary(&self, now: DateTime<Utc>) -> Summary;
    /// Re-reads the summary (nothing to do for files).
    fn refresh(&self, now: DateTime<Utc>) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Everything recorded is on disk (shutdown; rows are committed as they go).
    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// This instance's queue log, and the call journal its removals are journaled in.
pub struct FileDeferred {
    pub queue: Arc<DeferredQueue>,
    pub journals: Arc<Journals>,
}

impl FileDeferred {
    /// Claims `e` as read; `None` when it changed or another release has it.
    async fn claim_entry(&self, mut e: Entry) -> Result<Option<Entry>, StoreError> {
        let rid = e.release_request_id();
        let Some(claim) = self.queue.releasing(&e, &rid) else {
            return Ok(None);
        };
        claim.wait().await?;
        e.releasing = Some(rid);
        Ok(Some(e))
    }
}

impl DeferredStore for FileDeferred {
    fn defer<'a>(&'a self, d: Deferral<'a>) -> BoxFuture<'a, Result<String, StoreError>> {
        Box::pin(async move {
            let (id, pending) = self.queue.defer(d);
            pending.wait().await?;
            Ok(id)
        })
    }

    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Entry>, StoreError>> {
        Box::pin(async move { Ok(self.queue.get(id)) })
    }

    fn page<'a>(
        &'a self,
        lead_id: Option<&'a str>,
        phone: Option<&'a str>,
        offset: usize,
        limit: usize,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Page, StoreError>> {
        Box::pin(async move {
            let page = self.queue.list(lead_id, phone, offset, limit);
            Ok((page, self.queue.summary(now)))
        })
    }

    fn of_lead<'a>(
        &'a self,
        lead_id: &'a str,
        phone: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Entry>, StoreError>> {
        Box::pin(async move { Ok(self.queue.get_for(lead_id, phone).into_iter().collect()) })
    }

    fn hurry_all(&self, at: DateTime<Utc>) -> BoxFuture<'_, Result<usize, StoreError>> {
        Box::pin(async move {
            let (n, pending) = self.queue.hurry(None, at);
            pending.wait().await?;
            Ok(n)
        })
    }

    fn hurry_phone<'a>(
        &'a self,
        phone: &'a str,
        stage: &'a str,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<usize, StoreError>> {
        let hurried = self.queue.hurry_phone(phone, stage, at);
        Box::pin(async move {
            let n = hurried.len();
            for r in join_all(hurried.into_iter().map(|p| p.wait())).await {
                r?;
            }
            Ok(n)
        })
    }

    fn expired(
        &self,
        cutoff: DateTime<Utc>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        Box::pin(async move { Ok(self.queue.expired(cutoff, limit)) })
    }

    fn dequeue<'a>(
        &'a self,
        e: &'a Entry,
        event: &'a CallEvent,
        why: Removal,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            self.journals.append_call(event).wait().await?;
            self.queue.remove(e, why, now).wait().await?;
            Ok(true)
        })
    }

    fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        _lease: chrono::Duration,
    ) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        Box::pin(async move {
            let due = self.queue.due(now, limit);
            let claimed = join_all(due.into_iter().map(|e| self.claim_entry(e))).await;
            let mut out = Vec::with_capacity(claimed.len());
            for c in claimed {
                out.extend(c?);
            }
            Ok(out)
        })
    }

    fn claim<'a>(
        &'a self,
        id: &'a str,
        _now: DateTime<Utc>,
        _lease: chrono::Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move {
            let Some(e) = self.queue.get(id) else {
                return Ok(Claim::Missing);
            };
            Ok(match self.claim_entry(e).await? {
                Some(e) => Claim::Claimed(Box::new(e)),
                None => Claim::Busy,
            })
        })
    }

    fn adopt_stale(
        &self,
        _now: DateTime<Utc>,
        _lease: chrono::Duration,
    ) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn give_back<'a>(&'a self, e: &'a Entry) -> BoxFuture<'a, Result<(), StoreError>> {
        self.queue.retry_later(e);
        Box::pin(async { Ok(()) })
    }

    fn drop_release<'a>(
        &'a self,
        e: &'a Entry,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.queue.remove(e, Removal::Released, now).wait().await })
    }

    fn summary(&self, now: DateTime<Utc>) -> Summary {
        self.queue.summary(now)
    }

    fn refresh(&self, _now: DateTime<Utc>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        let flushed = self.queue.flush();
        Box::pin(async move { flushed.wait().await })
    }
}

#[cfg(test)]
mod tests;
