//! Leases: which instance does a singleton job (releasing deferred leads, retention, a
//! feed's refresh). A row per lease with its holder and expiry, taken or renewed in one
//! statement: an instance gets the lease if nobody holds it, it has expired, or it is
//! already the holder. No session-level advisory lock, so nothing leaks through pooled
//! connections; a holder that dies simply stops renewing.

use chrono::{DateTime, Utc};

use super::{Db, DbError};

impl Db {
    /// Takes or renews `name` for `holder` until `at + ttl`; true if `holder` has it now.
    pub async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        at: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> Result<bool, DbError> {
        let taken: Option<String> = sqlx::query_scalar(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE
             SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
             WHERE leases.holder = EXCLUDED.holder OR leases.expires_at <= $4
             RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(at + ttl)
        .bind(at)
        .fetch_optional(&self.pool)
        .await?;
        Ok(taken.as_deref() == Some(holder))
    }

    /// Gives `name` up if `holder` has it (a clean shutdown hands over at once).
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
