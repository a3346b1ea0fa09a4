//! Config documents in PostgreSQL: one row per document, its JSON body and a version.
//! A write names the version it read (optimistic concurrency, so two admins on two
//! instances cannot silently overwrite each other), commits, and announces the document's
//! name on [`CHANNEL`]; every instance listening reloads it.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::Row;

use super::{Db, DbError};

/// The `LISTEN`/`NOTIFY` channel that carries the name of a changed document.
pub const CHANNEL: &str = "callgate_documents";

/// A document as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub body: Value,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

impl Db {
    /// The document called `name`, if one was ever written.
    pub async fn document(&self, name: &str) -> Result<Option<Stored>, DbError> {
        let row = sqlx::query("SELECT body, version, updated_at FROM documents WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Stored {
                body: r.try_get("body")?,
                version: r.try_get("version")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .transpose()
    }

    /// Writes `body` as the document `name` if its version is still `expected` (`0` = it
    /// must not exist yet); returns the new version. Committed before it returns; the
    /// change is announced on [`CHANNEL`] at commit.
    pub async fn put_document(
        &self,
        name: &str,
        body: &Value,
        expected: i64,
        at: DateTime<Utc>,
    ) -> Result<i64, DbError> {
        let mut tx = self.pool.begin().await?;
        let found: i64 =
            sqlx::query_scalar("SELECT version FROM documents WHERE name = $1 FOR UPDATE")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?
                .unwrap_or(0);
        if found != expected {
            return Err(DbError::Conflict {
                name: name.to_string(),
                expected,
                found,
            });
        }
        let version = found + 1;
        sqlx::query(
            "INSERT INTO documents (name, body, version, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE
             SET body = EXCLUDED.body, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at",
        )
        .bind(name)
        .bind(body)
        .bind(version)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(version)
    }

    /// A listener on [`CHANNEL`] (a connection of its own, outside the pool).
    pub async fn listen_documents(&self) -> Result<PgListener, DbError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(listener)
    }

    /// A listener on `channel` (a connection of its own, outside the pool).
    pub async fn listen(&self, channel: &str) -> Result<PgListener, DbError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(channel).await?;
        Ok(listener)
    }
}
