//! The deferred queue as rows shared by every instance ([`DbDeferred`]): claims under this
//! instance's name, a removal and its `dequeued` journal line in one commit.

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures_util::future::BoxFuture;

use super::{Claim, DeferredStore, Page, Summary};
use crate::db::deferred::DeferredRow;
use crate::db::Db;
use crate::journal::CallEvent;
use crate::schedule::queue::{Deferral, Entry, Removal};
use crate::store::StoreError;

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

/// A lead's first row in the deferred queue (a fresh queue id; deferred now, never
/// released yet).
pub(crate) fn first_deferral(d: &Deferral<'_>) -> crate::db::deferred::DeferredRow {
    crate::db::deferred::DeferredRow {
        id: format!("q_{}", uuid::Uuid::new_v4().simple()),
        lead_id: d.lead.lead_id.clone(),
        phone: d.lead.phone.as_str().to_string(),
        request_id: d.request_id.to_string(),
        lead: serde_json::Value::Object(d.lead.fields.clone()),
        first_deferred_at: d.now,
        deferred_at: d.now,
        release_at: d.release_at,
        stage: d.stage.to_string(),
        reason: d.reason.to_string(),
        releases: 0,
        releasing: None,
    }
}

impl DeferredStore for DbDeferred {
    fn defer<'a>(&'a self, d: Deferral<'a>) -> BoxFuture<'a, Result<String, StoreError>> {
        Box::pin(async move { Ok(self.db.defer_lead(&first_deferral(&d)).await?) })
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

    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}
