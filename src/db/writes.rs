//! Writes to Convoso in database mode: one row per write, claimed with `FOR UPDATE SKIP
//! LOCKED` and a lease, so each instance sends different writes and a write whose sender
//! died is sent again once its lease runs out (the writes are idempotent at Convoso).

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sqlx::Row;

use super::{Db, DbError};

/// How long a claimed write is held before another instance may take it.
pub const WRITE_LEASE_SECS: i64 = 60;

impl Db {
    /// Inserts a write unless one with its id exists; true if inserted.
    pub async fn enqueue_write(
        &self,
        id: &str,
        state: &str,
        next_at: DateTime<Utc>,
        created_at: DateTime<Utc>,
        body: &Value,
    ) -> Result<bool, DbError> {
        Ok(sqlx::query(
            "INSERT INTO convoso_writes (id, state, next_at, created_at, body)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(state)
        .bind(next_at)
        .bind(created_at)
        .bind(body)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Takes up to `limit` writes due at `now` for [`WRITE_LEASE_SECS`].
    pub async fn claim_writes(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Value>, DbError> {
        let rows = sqlx::query(
            "UPDATE convoso_writes w SET lease_until = $2
             WHERE w.id IN (
                 SELECT id FROM convoso_writes
                 WHERE state IN ('queued', 'failing') AND next_at <= $1
                   AND (lease_until IS NULL OR lease_until < $1)
                 ORDER BY next_at FOR UPDATE SKIP LOCKED LIMIT $3)
             RETURNING w.body",
        )
        .bind(now)
        .bind(now + Duration::seconds(WRITE_LEASE_SECS))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        bodies(&rows)
    }

    /// Stores a write's new state and releases its claim.
    pub async fn save_write(
        &self,
        id: &str,
        state: &str,
        next_at: DateTime<Utc>,
        body: &Value,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE convoso_writes SET state = $2, next_at = $3, body = $4, lease_until = NULL
             WHERE id = $1",
        )
        .bind(id)
        .bind(state)
        .bind(next_at)
        .bind(body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The open writes (queued, failing, given up), oldest first, at most `limit`.
    pub async fn open_writes(&self, limit: i64) -> Result<Vec<Value>, DbError> {
        let rows = sqlx::query(
            "SELECT body FROM convoso_writes WHERE state IN ('queued', 'failing', 'gave_up')
             ORDER BY created_at, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        bodies(&rows)
    }

    pub async fn write_by_id(&self, id: &str) -> Result<Option<Value>, DbError> {
        Ok(
            sqlx::query_scalar("SELECT body FROM convoso_writes WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}

fn bodies(rows: &[sqlx::postgres::PgRow]) -> Result<Vec<Value>, DbError> {
    rows.iter()
        .map(|r| r.try_get("body").map_err(DbError::from))
        .collect()
}
