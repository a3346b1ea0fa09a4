//! Do-not-call list versions shared by every instance: the version in force of each list,
//! its record (JSON) and its snapshot bytes. A version replaces the stored one only if it
//! is newer, so the newest load wins whichever instance made it.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Db, DbError};

impl Db {
    /// Keeps `version` of list `name` unless a newer one is stored; true if stored.
    pub async fn store_list_version(
        &self,
        name: &str,
        version: i64,
        meta: &Value,
        snapshot: &[u8],
        at: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        Ok(sqlx::query(
            "INSERT INTO list_versions (name, version, meta, snapshot, stored_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, meta = EXCLUDED.meta,
                 snapshot = EXCLUDED.snapshot, stored_at = EXCLUDED.stored_at
             WHERE list_versions.version < EXCLUDED.version",
        )
        .bind(name)
        .bind(version)
        .bind(meta)
        .bind(snapshot)
        .bind(at)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// The stored version number of list `name`.
    pub async fn list_version(&self, name: &str) -> Result<Option<i64>, DbError> {
        Ok(
            sqlx::query_scalar("SELECT version FROM list_versions WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The stored version of list `name`: its record and snapshot bytes.
    pub async fn list_snapshot(&self, name: &str) -> Result<Option<(Value, Vec<u8>)>, DbError> {
        Ok(
            sqlx::query_as("SELECT meta, snapshot FROM list_versions WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}
