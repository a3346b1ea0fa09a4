//! Copying a file data directory into the database (`callgate migrate --to-database`),
//! idempotently: a journal file's lines go in with a `copied_files` row in one transaction
//! (a second run skips the file); outbox and deferred rows that exist are left as they are.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::deferred::DeferredRow;
use super::journals::JournalLine;
use super::{Db, DbError};

/// An open outbox entry of the file backend.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub request_id: String,
    pub lead_id: String,
    pub phone: String,
    pub body: Value,
    /// queued, unconfirmed or failed (a send in flight at a crash is unconfirmed).
    pub state: String,
    pub queued_at: DateTime<Utc>,
    pub attempts: Value,
    pub last_error: Option<String>,
}

impl Db {
    /// Copies one journal file's lines unless `path` was copied before; returns whether it
    /// was copied now.
    pub async fn copy_journal_file(
        &self,
        path: &str,
        lines: &[JournalLine],
        at: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let mut tx = self.pool.begin().await?;
        let fresh = sqlx::query(
            "INSERT INTO copied_files (path, lines, copied_at) VALUES ($1, $2, $3)
             ON CONFLICT (path) DO NOTHING",
        )
        .bind(path)
        .bind(lines.len() as i64)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            return Ok(false);
        }
        for chunk in lines.chunks(5000) {
            super::journals::append_lines(&mut *tx, chunk).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Adds an open outbox entry unless its request id is there; returns whether it was
    /// added.
    pub async fn copy_outbox_row(&self, r: &OutboxRow) -> Result<bool, DbError> {
        Ok(sqlx::query(
            "INSERT INTO outbox (request_id, lead_id, phone, body, state, queued_at, next_try_at,
                 attempts, last_error)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8) ON CONFLICT (request_id) DO NOTHING",
        )
        .bind(&r.request_id)
        .bind(&r.lead_id)
        .bind(&r.phone)
        .bind(&r.body)
        .bind(&r.state)
        .bind(r.queued_at)
        .bind(&r.attempts)
        .bind(&r.last_error)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Adds a deferred entry unless its id, or its lead id + number, is there.
    pub async fn copy_deferred_row(&self, r: &DeferredRow) -> Result<bool, DbError> {
        Ok(sqlx::query(
            "INSERT INTO deferred (id, lead_id, phone, request_id, lead, first_deferred_at,
                 deferred_at, release_at, stage, reason, releases)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
        )
        .bind(&r.id)
        .bind(&r.lead_id)
        .bind(&r.phone)
        .bind(&r.request_id)
        .bind(&r.lead)
        .bind(r.first_deferred_at)
        .bind(r.deferred_at)
        .bind(r.release_at)
        .bind(&r.stage)
        .bind(&r.reason)
        .bind(r.releases)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Stores a config document unless one is stored; returns whether it was stored.
    pub async fn copy_document(
        &self,
        name: &str,
        body: &Value,
        at: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        match self.put_document(name, body, 0, at).await {
            Ok(_) => Ok(true),
            Err(DbError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
