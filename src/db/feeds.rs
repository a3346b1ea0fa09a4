//! The last good copy of each feed, shared by every instance (the file backend keeps it in
//! `DATA_DIR/feeds/<name>.json`). A copy older than the stored one never replaces it.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Db, DbError};

impl Db {
    /// Keeps `entries` as the feed's last good copy unless a newer one is stored.
    pub async fn store_feed(
        &self,
        name: &str,
        fetched_at: DateTime<Utc>,
        entries: &[String],
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO feed_cache (name, fetched_at, entries) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET fetched_at = EXCLUDED.fetched_at,
                 entries = EXCLUDED.entries
             WHERE feed_cache.fetched_at < EXCLUDED.fetched_at",
        )
        .bind(name)
        .bind(fetched_at)
        .bind(sqlx::types::Json(entries))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The feed's last good copy, if any instance ever fetched one.
    pub async fn cached_feed(
        &self,
        name: &str,
    ) -> Result<Option<(DateTime<Utc>, Vec<String>)>, DbError> {
        let row = sqlx::query("SELECT fetched_at, entries FROM feed_cache WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let entries: sqlx::types::Json<Vec<String>> = r.try_get("entries")?;
            Ok((r.try_get("fetched_at")?, entries.0))
        })
        .transpose()
    }
}
