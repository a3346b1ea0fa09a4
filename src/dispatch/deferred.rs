//! The deferred queue's storage role: [`DeferredStore`] (put a lead in the queue outside
//! a decision, read and page it, make entries due, take them out with their `dequeued`
//! journal line, and claim them for release). Two implementations: [`FileDeferred`] (this
//! instance's queue log, [`DeferredQueue`], with the call journal beside it) and
//! [`DbDeferred`] (rows shared by every instance, claimed under this instance's name; a
//! removal and its journal line commit together). `startup/` picks one; the gateway holds
//! it. A decision that releases an entry finishes it inside the decision (`Gateway::decide`).

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures_util::future::{join_all, BoxFuture};

use crate::db::deferred::DeferredRow;
use crate::db::Db;
use crate::journal::{CallEvent, Journals};
use crate::schedule::queue::{Deferral, DeferredQueue, Entry, Removal};
use crate::store::StoreError;

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
        Box::pin(async move { Ok(self.queue.remove(e, Removal::Released, now).wait().await?) })
    }

    fn summary(&self, now: DateTime<Utc>) -> Summary {
        self.queue.summary(now)
    }

    fn refresh(&self, _now: DateTime<Utc>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}

/// The deferred rows shared by every instance; this instance's claims under `holder`.
pub struct DbDeferred {
    db: Db,
    holder: String,
    /// The business timezone (the date of a `dequeued` journal line).
    tz: Tz,
    summary: Mutex<(i64, i64, Option<DateTime<Utc>>)>,
}

impl DbDeferred {
    pub fn new(db: Db, tz: Tz) -> Self {
        Self {
            holder: db.holder.clone(),
            db,
            tz,
            summary: Mutex::new((0, 0, None)),
        }
    }
}

/// A deferred row as the file queue's entry (admin views and releases use one shape).
pub fn entry_of(r: DeferredRow) -> Entry {
    Entry {
        id: r.id,
        version: 0,
        request_id: r.request_id,
        lead_id: r.lead_id,
        phone: r.phone,
        first_deferred_at: r.first_deferred_at,
        deferred_at: r.deferred_at,
        release_at: r.release_at,
        stage: r.stage,
        reason: r.reason,
        releases: u32::try_from(r.releases).unwrap_or(0),
        lead: r.lead.to_string().into(),
        releasing: r.releasing,
    }
}

fn count(v: i64) -> usize {
    usize::try_from(v).unwrap_or(0)
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl DeferredStore for DbDeferred {
    fn defer<'a>(&'a self, d: Deferral<'a>) -> BoxFuture<'a, Result<String, StoreError>> {
        Box::pin(async move {
            let row = super::shared::first_deferral(
                d.lead,
                d.request_id,
                d.now,
                d.release_at,
                d.stage,
                d.reason,
            );
            Ok(self.db.defer_lead(&row).await?)
        })
    }

    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Entry>, StoreError>> {
        Box::pin(async move { Ok(self.db.deferred_row(id).await?.map(entry_of)) })
    }

    fn page<'a>(
        &'a self,
        lead_id: Option<&'a str>,
        phone: Option<&'a str>,
        offset: usize,
        limit_to: usize,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Page, StoreError>> {
        Box::pin(async move {
            let (matching, rows) = self
                .db
                .list_deferred(lead_id, phone, limit(offset), limit(limit_to))
                .await?;
            let (total, due, oldest) = self.db.deferred_summary(now).await?;
            Ok((
                (count(matching), rows.into_iter().map(entry_of).collect()),
                (count(total), count(due), oldest),
            ))
        })
    }

    fn of_lead<'a>(
        &'a self,
        lead_id: &'a str,
        phone: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Entry>, StoreError>> {
        Box::pin(async move {
            let (_, rows) = self
                .db
                .list_deferred(Some(lead_id), Some(phone), 0, 1000)
                .await?;
            Ok(rows.into_iter().map(entry_of).collect())
        })
    }

    fn hurry_all(&self, at: DateTime<Utc>) -> BoxFuture<'_, Result<usize, StoreError>> {
        Box::pin(async move {
            let n = self.db.hurry_deferred(None, at).await?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    fn hurry_phone<'a>(
        &'a self,
        phone: &'a str,
        stage: &'a str,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<usize, StoreError>> {
        Box::pin(async move {
            let n = self.db.hurry_phone(phone, stage, at).await?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    fn expired(
        &self,
        cutoff: DateTime<Utc>,
        limit_to: usize,
    ) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        Box::pin(async move {
            let rows = self.db.expired_deferred(cutoff, limit(limit_to)).await?;
            Ok(rows.into_iter().map(entry_of).collect())
        })
    }

    fn dequeue<'a>(
        &'a self,
        e: &'a Entry,
        event: &'a CallEvent,
        _why: Removal,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let date = crate::clock::business_date(now, self.tz);
            let line = crate::journal::rows::call_line(event, date);
            Ok(self.db.dequeue_deferred(&e.id, &line).await?)
        })
    }

    fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit_to: usize,
        lease: chrono::Duration,
    ) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        Box::pin(async move {
            let rows = self
                .db
                .claim_releases(&self.holder, now, limit(limit_to), lease)
                .await?;
            Ok(rows.into_iter().map(entry_of).collect())
        })
    }

    fn claim<'a>(
        &'a self,
        id: &'a str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move {
            if let Some(row) = self.db.claim_release(id, &self.holder, now, lease).await? {
                return Ok(Claim::Claimed(Box::new(entry_of(row))));
            }
            Ok(match self.db.deferred_row(id).await? {
                Some(_) => Claim::Busy,
                None => Claim::Missing,
            })
        })
    }

    fn adopt_stale(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        Box::pin(async move {
            let mut adopted = Vec::new();
            for row in self.db.stale_releases(now).await? {
                if self
                    .db
                    .adopt_release(&row.id, &self.holder, now, lease)
                    .await?
                {
                    adopted.push(entry_of(row));
                }
            }
            Ok(adopted)
        })
    }

    fn give_back<'a>(&'a self, e: &'a Entry) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { Ok(self.db.unclaim_release(&e.id, &self.holder).await?) })
    }

    fn drop_release<'a>(
        &'a self,
        e: &'a Entry,
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.db.finish_release(&e.id, &self.holder, None).await?;
            Ok(())
        })
    }

    fn summary(&self, _now: DateTime<Utc>) -> Summary {
        let (depth, due, oldest) = *self.summary.lock().unwrap_or_else(PoisonError::into_inner);
        (count(depth), count(due), oldest)
    }

    fn refresh(&self, now: DateTime<Utc>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let summary = self.db.deferred_summary(now).await?;
            *self.summary.lock().unwrap_or_else(PoisonError::into_inner) = summary;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Lead;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + secs, 0).unwrap_or_default()
    }

    fn lead(id: &str, phone: &str) -> Lead {
        let map = serde_json::json!({"lead_id": id, "phone_number": phone});
        Lead::parse(
            map.as_object().cloned().unwrap_or_default(),
            &Default::default(),
            "US",
        )
        .expect("lead")
    }

    async fn defer(store: &dyn DeferredStore, l: &Lead, release: i64, stage: &str) -> String {
        let d = Deferral {
            lead: l,
            request_id: &format!("req_{}", l.lead_id),
            now: at(0),
            release_at: at(release),
            stage,
            reason: "closed",
        };
        store.defer(d).await.expect("defer")
    }

    fn ids(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|e| e.lead_id.as_str()).collect()
    }

    /// What every implementation does: two leads deferred, one due; the due one claimed
    /// once (not twice, not by an admin meanwhile), given back, claimed again and dropped;
    /// the other made due by its free line, then expired only while nobody releases it.
    async fn behaves(store: &dyn DeferredStore) {
        let lease = chrono::Duration::seconds(60);
        let (a, b) = (lead("A", "+14155550101"), lead("B", "+14155550102"));
        let a_id = defer(store, &a, 600, "protection").await;
        let b_id = defer(store, &b, 5, "schedule").await;
        assert_eq!(
            defer(store, &a, 600, "protection").await,
            a_id,
            "same lead, same id"
        );
        let now = at(10);
        let ((matching, page), summary) = store.page(None, None, 0, 10, now).await.expect("page");
        assert_eq!(
            (matching, ids(&page)),
            (2, vec!["B", "A"]),
            "by release time"
        );
        assert_eq!(summary, (2, 1, Some(at(0))));
        store.refresh(now).await.expect("refresh");
        assert_eq!(store.summary(now), (2, 1, Some(at(0))));
        let of_a = store.of_lead("A", "+14155550101").await.expect("of lead");
        assert_eq!(ids(&of_a), ["A"]);

        let claimed = store.claim_due(now, 10, lease).await.expect("claim");
        assert_eq!(ids(&claimed), ["B"]);
        assert_eq!(claimed[0].releasing.as_deref(), Some("req_B-r1"));
        assert!(store
            .claim_due(now, 10, lease)
            .await
            .expect("again")
            .is_empty());
        assert!(matches!(
            store.claim(&b_id, now, lease).await.expect("admin"),
            Claim::Busy
        ));
        assert!(matches!(
            store.claim("q_nope", now, lease).await.expect("nope"),
            Claim::Missing
        ));
        store.give_back(&claimed[0]).await.expect("give back");
        let again = store.claim_due(now, 10, lease).await.expect("claim again");
        assert_eq!(ids(&again), ["B"]);
        store.drop_release(&again[0], now).await.expect("drop");
        assert!(store.get(&b_id).await.expect("get").is_none());

        assert_eq!(
            store
                .hurry_phone("+14155550101", "protection", now)
                .await
                .expect("hurry"),
            1
        );
        assert_eq!(
            store
                .hurry_phone("+14155550101", "schedule", now)
                .await
                .expect("other stage"),
            0
        );
        let Claim::Claimed(e) = store.claim(&a_id, now, lease).await.expect("due now") else {
            panic!("the hurried entry is claimed");
        };
        assert!(
            store.expired(at(1), 10).await.expect("expired").is_empty(),
            "being released"
        );
        store.give_back(&e).await.expect("give back");
        let expired = store.expired(at(1), 10).await.expect("expired");
        assert_eq!(ids(&expired), ["A"]);
        let event = CallEvent::Dequeued {
            timestamp: now,
            request_id: e.request_id.clone(),
            queue_id: e.id.clone(),
            lead_id: Some("A".into()),
            phone: Some(e.phone.clone()),
            why: Removal::Expired,
            first_deferred_at: e.first_deferred_at,
        };
        let fresh = store.get(&a_id).await.expect("get").expect("still queued");
        assert!(store
            .dequeue(&fresh, &event, Removal::Expired, now)
            .await
            .expect("dequeue"));
        assert_eq!(
            store.page(None, None, 0, 10, now).await.expect("page").0 .0,
            0
        );
        assert_eq!(store.hurry_all(now).await.expect("hurry all"), 0);
    }

    #[tokio::test]
    async fn files_behave_as_a_deferred_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let quarantine = crate::store::quarantine::Quarantine::in_memory();
        let (queue, _) = DeferredQueue::open(dir.path(), &quarantine).expect("queue");
        let journals = Journals::open(dir.path(), chrono_tz::UTC).expect("journals");
        let store = FileDeferred {
            queue: Arc::new(queue),
            journals: Arc::new(journals),
        };
        behaves(&store).await;
        let day = store.journals.date_of(at(10));
        let (_, bytes) = store
            .journals
            .day_bytes(crate::journal::Kind::Calls, day)
            .expect("day");
        assert!(
            String::from_utf8_lossy(&bytes).contains("dequeued"),
            "journaled"
        );
    }

    #[tokio::test]
    async fn rows_behave_as_a_deferred_store() {
        let Some(test) = crate::db::scratch::Scratch::create().await else {
            return;
        };
        let db = Db::connect(&test.url, 4).await.expect("connect");
        behaves(&DbDeferred::new(db.clone(), chrono_tz::UTC)).await;
        db.pool.close().await;
    }
}
