//! The follow-up texts (`texts`): each row holds the whole text as JSON; due rows are
//! claimed with `FOR UPDATE SKIP LOCKED` and a deadline so two instances never take one.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Db, DbError};

/// A text as stored: its columns and the whole record.
pub struct TextRow<'a> {
    pub id: &'a str,
    pub phone: &'a str,
    pub state: &'a str,
    pub due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub record: Value,
}

impl Db {
    /// Inserts the rows whose ids are new; how many.
    pub async fn insert_texts(&self, rows: &[TextRow<'_>]) -> Result<usize, DbError> {
        let mut tx = self.pool.begin().await?;
        let mut added = 0;
        for r in rows {
            added += sqlx::query(
                "INSERT INTO texts (id, phone, state, due_at, created_at, record)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
            )
            .bind(r.id)
            .bind(r.phone)
            .bind(r.state)
            .bind(r.due_at)
            .bind(r.created_at)
            .bind(&r.record)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(usize::try_from(added).unwrap_or(usize::MAX))
    }

    /// Claims up to `limit` scheduled rows due at `now` until `until`.
    pub async fn claim_texts(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        until: DateTime<Utc>,
    ) -> Result<Vec<Value>, DbError> {
        Ok(sqlx::query_scalar(
            "UPDATE texts SET claimed_until = $3 WHERE id IN (
                 SELECT id FROM texts
                 WHERE state = 'scheduled' AND due_at <= $1
                   AND (claimed_until IS NULL OR claimed_until < $1)
                 ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING record",
        )
        .bind(now)
        .bind(limit)
        .bind(until)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Stores a text's new record; `keep_claim` while it is being sent.
    pub async fn save_text(&self, r: &TextRow<'_>, keep_claim: bool) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE texts SET state = $2, due_at = $3, record = $4,
                 claimed_until = CASE WHEN $5 THEN claimed_until ELSE NULL END
             WHERE id = $1",
        )
        .bind(r.id)
        .bind(r.state)
        .bind(r.due_at)
        .bind(&r.record)
        .bind(keep_claim)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Rows left `sending` past their claim, made `unconfirmed` with `reason`.
    pub async fn settle_abandoned_texts(
        &self,
        now: DateTime<Utc>,
        reason: &str,
    ) -> Result<Vec<Value>, DbError> {
        Ok(sqlx::query_scalar(
            "UPDATE texts SET state = 'unconfirmed', claimed_until = NULL,
                 record = record || jsonb_build_object('state', 'unconfirmed', 'reason', $2::text,
                     'done_at', to_char($1::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))
             WHERE state = 'sending' AND claimed_until < $1
             RETURNING record",
        )
        .bind(now)
        .bind(reason)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The number's texts created since `since`, oldest first.
    pub async fn texts_of(&self, phone: &str, since: DateTime<Utc>) -> Result<Vec<Value>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT record FROM texts WHERE phone = $1 AND created_at >= $2
             ORDER BY created_at, id",
        )
        .bind(phone)
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }
}
