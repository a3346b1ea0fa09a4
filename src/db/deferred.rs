//! The deferred queue as rows, shared by every instance. Deferring the same lead id +
//! number again keeps the row's id and first deferral time and takes the newer payload.
//! Releasing is two-phase across instances: [`Db::claim_releases`] marks due rows with the
//! request id each release will use (`<request id>-r<n>`, as the file queue does) and a lease, committed before the
//! pipeline decides; the claimant then removes the row or defers it again. A claim whose
//! lease ran out is handed to [`Db::stale_releases`] for settling.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;

use super::{Db, DbError};

/// A deferred lead as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DeferredRow {
    pub id: String,
    pub lead_id: String,
    pub phone: String,
    pub request_id: String,
    pub lead: Value,
    pub first_deferred_at: DateTime<Utc>,
    pub deferred_at: DateTime<Utc>,
    pub release_at: DateTime<Utc>,
    pub stage: String,
    pub reason: String,
    pub releases: i32,
    pub releasing: Option<String>,
}

const COLUMNS: &str = "id, lead_id, phone, request_id, lead, first_deferred_at, deferred_at, \
                       release_at, stage, reason, releases, releasing";

fn row_of(r: &sqlx::postgres::PgRow) -> Result<DeferredRow, sqlx::Error> {
    Ok(DeferredRow {
        id: r.try_get("id")?,
        lead_id: r.try_get("lead_id")?,
        phone: r.try_get("phone")?,
        request_id: r.try_get("request_id")?,
        lead: r.try_get("lead")?,
        first_deferred_at: r.try_get("first_deferred_at")?,
        deferred_at: r.try_get("deferred_at")?,
        release_at: r.try_get("release_at")?,
        stage: r.try_get("stage")?,
        reason: r.try_get("reason")?,
        releases: r.try_get("releases")?,
        releasing: r.try_get("releasing")?,
    })
}

impl Db {
    /// Defers a lead (or defers it again): returns the row's id, which stays the same for
    /// the same lead id + number (`row.id` is used only for a new row).
    pub async fn defer_lead(&self, row: &DeferredRow) -> Result<String, DbError> {
        defer_lead(&self.pool, row).await
    }

    /// Claims up to `limit` due rows for `holder` until `at + lease`, each marked with the
    /// request id its release will use.
    pub async fn claim_releases(
        &self,
        holder: &str,
        at: DateTime<Utc>,
        limit: i64,
        lease: chrono::Duration,
    ) -> Result<Vec<DeferredRow>, DbError> {
        let rows = sqlx::query(&format!(
            "UPDATE deferred d SET releasing = d.request_id || '-r' || (d.releases + 1),
                 claimed_by = $1, claim_expires = $4
             WHERE d.id IN (
                 SELECT id FROM deferred WHERE releasing IS NULL AND release_at <= $2
                 ORDER BY release_at, id FOR UPDATE SKIP LOCKED LIMIT $3)
             RETURNING {}",
            COLUMNS
                .split(", ")
                .map(|c| format!("d.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(holder)
        .bind(at)
        .bind(limit)
        .bind(at + lease)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<DeferredRow> = rows.iter().map(row_of).collect::<Result<_, _>>()?;
        out.sort_by(|a, b| (a.release_at, &a.id).cmp(&(b.release_at, &b.id)));
        Ok(out)
    }

    /// The release of `id` ended: the lead was decided (the row goes), or it was deferred
    /// again (`again`; the row stays). False if the claim was no longer `holder`'s.
    pub async fn finish_release(
        &self,
        id: &str,
        holder: &str,
        again: Option<Again<'_>>,
    ) -> Result<bool, DbError> {
        finish_release(&self.pool, id, holder, again).await
    }

    /// Releases whose claim ran out by `at` (their instance stopped mid-release), for the
    /// caller to settle by whether their `releasing` request id reached the outbox.
    pub async fn stale_releases(&self, at: DateTime<Utc>) -> Result<Vec<DeferredRow>, DbError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM deferred WHERE releasing IS NOT NULL AND claim_expires <= $1
             ORDER BY release_at, id"
        ))
        .bind(at)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(row_of).collect::<Result<_, _>>()?)
    }

    /// Takes a stale release over for `holder` (so one instance settles it).
    pub async fn adopt_release(
        &self,
        id: &str,
        holder: &str,
        at: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<bool, DbError> {
        let done = sqlx::query(
            "UPDATE deferred SET claimed_by = $2, claim_expires = $4
             WHERE id = $1 AND releasing IS NOT NULL AND claim_expires <= $3",
        )
        .bind(id)
        .bind(holder)
        .bind(at)
        .bind(at + lease)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Leads waiting for a number's line (deferred by `stage`) become due at `at`.
    pub async fn hurry_phone(
        &self,
        phone: &str,
        stage: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, DbError> {
        Ok(sqlx::query(
            "UPDATE deferred SET release_at = $3
             WHERE phone = $1 AND stage = $2 AND releasing IS NULL AND release_at > $3",
        )
        .bind(phone)
        .bind(stage)
        .bind(at)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Removes a row that is not being released (admin delete, expiry); returns it.
    pub async fn remove_deferred(&self, id: &str) -> Result<Option<DeferredRow>, DbError> {
        let row = sqlx::query(&format!(
            "DELETE FROM deferred WHERE id = $1 AND releasing IS NULL RETURNING {COLUMNS}"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(row_of).transpose().map_err(DbError::from)
    }

    /// Up to `limit` rows first deferred at or before `cutoff`, not being released.
    pub async fn expired_deferred(
        &self,
        cutoff: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DeferredRow>, DbError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM deferred WHERE first_deferred_at <= $1 AND releasing IS NULL
             ORDER BY first_deferred_at, id LIMIT $2"
        ))
        .bind(cutoff)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(row_of).collect::<Result<_, _>>()?)
    }

    /// Removes a row that is not being released (expiry, an admin's delete) and journals
    /// `line` (its `dequeued` event) in the same commit. False if it was gone or being
    /// released (nothing journaled).
    pub async fn dequeue_deferred(
        &self,
        id: &str,
        line: &super::journals::JournalLine,
    ) -> Result<bool, DbError> {
        let mut tx = self.pool.begin().await?;
        let gone = sqlx::query("DELETE FROM deferred WHERE id = $1 AND releasing IS NULL")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if gone {
            super::journals::append_lines(&mut *tx, std::slice::from_ref(line)).await?;
        }
        tx.commit().await?;
        Ok(gone)
    }

    /// One row by id.
    pub async fn deferred_row(&self, id: &str) -> Result<Option<DeferredRow>, DbError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM deferred WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(row_of).transpose().map_err(DbError::from)
    }

    /// Rows matching the filters by release time (releases under way last): (matching,
    /// page).
    pub async fn list_deferred(
        &self,
        lead_id: Option<&str>,
        phone: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<DeferredRow>), DbError> {
        let filter = "($1::text IS NULL OR lead_id = $1) AND ($2::text IS NULL OR phone = $2)";
        let total: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM deferred WHERE {filter}"))
                .bind(lead_id)
                .bind(phone)
                .fetch_one(&self.pool)
                .await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM deferred WHERE {filter}
             ORDER BY releasing IS NOT NULL, release_at, id OFFSET $3 LIMIT $4"
        ))
        .bind(lead_id)
        .bind(phone)
        .bind(offset)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok((total, rows.iter().map(row_of).collect::<Result<_, _>>()?))
    }

    /// Claims one row for release now (an admin's), whatever its release time. `None`
    /// when it is gone or already being released.
    pub async fn claim_release(
        &self,
        id: &str,
        holder: &str,
        at: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Option<DeferredRow>, DbError> {
        let row = sqlx::query(&format!(
            "UPDATE deferred SET releasing = request_id || '-r' || (releases + 1), claimed_by = $2,
                 claim_expires = $3
             WHERE id = $1 AND releasing IS NULL RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(holder)
        .bind(at + lease)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(row_of).transpose().map_err(DbError::from)
    }

    /// Makes one row (or every row) due at `at`; returns how many.
    pub async fn hurry_deferred(
        &self,
        id: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<u64, DbError> {
        Ok(sqlx::query(
            "UPDATE deferred SET release_at = LEAST(release_at, $2)
             WHERE ($1::text IS NULL OR id = $1)",
        )
        .bind(id)
        .bind(at)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Gives a claim back (the release could not be recorded): due again.
    pub async fn unclaim_release(&self, id: &str, holder: &str) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE deferred SET releasing = NULL, claimed_by = NULL, claim_expires = NULL
             WHERE id = $1 AND claimed_by = $2",
        )
        .bind(id)
        .bind(holder)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// (rows, due at `at`, oldest first deferral).
    pub async fn deferred_summary(
        &self,
        at: DateTime<Utc>,
    ) -> Result<(i64, i64, Option<DateTime<Utc>>), DbError> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE release_at <= $1) AS due,
                    MIN(first_deferred_at) AS oldest FROM deferred",
        )
        .bind(at)
        .fetch_one(&self.pool)
        .await?;
        Ok((r.try_get("total")?, r.try_get("due")?, r.try_get("oldest")?))
    }
}

/// Defers a lead (or defers it again): returns the row's id, which stays the same for
/// the same lead id + number (`row.id` is used only for a new row).
pub(super) async fn defer_lead<'e>(
    ex: impl sqlx::PgExecutor<'e>,
    row: &DeferredRow,
) -> Result<String, DbError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO deferred (id, lead_id, phone, request_id, lead, first_deferred_at,
             deferred_at, release_at, stage, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9)
         ON CONFLICT (lead_id, phone) DO UPDATE SET request_id = EXCLUDED.request_id,
             lead = EXCLUDED.lead, deferred_at = EXCLUDED.deferred_at,
             release_at = EXCLUDED.release_at, stage = EXCLUDED.stage,
             reason = EXCLUDED.reason
         RETURNING id",
    )
    .bind(&row.id)
    .bind(&row.lead_id)
    .bind(&row.phone)
    .bind(&row.request_id)
    .bind(&row.lead)
    .bind(row.deferred_at)
    .bind(row.release_at)
    .bind(&row.stage)
    .bind(&row.reason)
    .fetch_one(ex)
    .await?)
}

/// How a release ends when its lead is deferred again: the new release time, stage and
/// reason, the request id and payload of the deciding request, and when.
pub struct Again<'a> {
    pub release_at: DateTime<Utc>,
    pub stage: &'a str,
    pub reason: &'a str,
    pub request_id: &'a str,
    pub lead: &'a Value,
    pub at: DateTime<Utc>,
}

/// Ends the release of row `id`: it goes (the lead was decided), or stays due at
/// `again.release_at` (deferred again, `releases` + 1). False if the claim was no longer
/// `holder`'s.
pub(super) async fn finish_release<'e>(
    ex: impl sqlx::PgExecutor<'e>,
    id: &str,
    holder: &str,
    again: Option<Again<'_>>,
) -> Result<bool, DbError> {
    let done = match again {
        None => {
            sqlx::query("DELETE FROM deferred WHERE id = $1 AND claimed_by = $2")
                .bind(id)
                .bind(holder)
                .execute(ex)
                .await?
        }
        Some(a) => {
            sqlx::query(
                "UPDATE deferred SET release_at = $3, stage = $4, reason = $5,
                     releases = releases + 1, releasing = NULL, claimed_by = NULL,
                     claim_expires = NULL, request_id = $6, lead = $7, deferred_at = $8
                 WHERE id = $1 AND claimed_by = $2",
            )
            .bind(id)
            .bind(holder)
            .bind(a.release_at)
            .bind(a.stage)
            .bind(a.reason)
            .bind(a.request_id)
            .bind(a.lead)
            .bind(a.at)
            .execute(ex)
            .await?
        }
    };
    Ok(done.rows_affected() == 1)
}
