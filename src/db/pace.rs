//! Claiming a call within the deployment's limits: at most `BLAND_MAX_CONCURRENT` calls in
//! flight across instances, and sends started at least `1 / BLAND_MAX_CALLS_PER_SECOND`
//! apart on the database's clock, decided under one transaction-scoped lock; none at all
//! while a 429 from the provider pauses the deployment (`paused_until`).

use chrono::{DateTime, Utc};

use super::outbox::Claimed;
use super::{Db, DbError};

/// What [`Db::claim_paced`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    Claimed(Claimed),
    /// Nothing due (or `only` is no longer queued).
    Nothing,
    /// `BLAND_MAX_CONCURRENT` calls are in flight across the deployment.
    Full,
    /// The next send may start after this long.
    Wait(std::time::Duration),
    /// Sending is paused for the deployment until `until` (a 429), because `why`.
    Paused {
        until: DateTime<Utc>,
        why: String,
    },
}

impl Db {
    /// Claims a call for `holder` within the deployment's limits: at most `max_in_flight`
    /// calls in flight across instances, and sends started at least `spacing` apart (on the
    /// database's clock, shared by every instance). `only` claims that queued call whatever
    /// its `next_try_at` (this instance's own retry timer fired); otherwise the oldest due.
    pub async fn claim_paced(
        &self,
        holder: &str,
        at: DateTime<Utc>,
        lease: chrono::Duration,
        only: Option<&str>,
        max_in_flight: i64,
        spacing: chrono::Duration,
    ) -> Result<Claim, DbError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('callgate_dispatch', 0))")
            .execute(&mut *tx)
            .await?;
        let in_flight: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE state = 'in_flight'")
                .fetch_one(&mut *tx)
                .await?;
        let (paused_until, why): (Option<DateTime<Utc>>, Option<String>) =
            sqlx::query_as("SELECT paused_until, paused_why FROM dispatch_pace")
                .fetch_one(&mut *tx)
                .await?;
        if let Some(until) = paused_until.filter(|u| *u > at) {
            tx.commit().await?;
            let why = why.unwrap_or_default();
            return Ok(Claim::Paused { until, why });
        }
        if in_flight >= max_in_flight {
            tx.commit().await?;
            return Ok(Claim::Full);
        }
        let wait_ms: f64 = sqlx::query_scalar(
            "SELECT GREATEST(0, EXTRACT(EPOCH FROM (next_at - clock_timestamp())) * 1000)::float8
             FROM dispatch_pace",
        )
        .fetch_one(&mut *tx)
        .await?;
        if wait_ms > 0.0 {
            tx.commit().await?;
            return Ok(Claim::Wait(std::time::Duration::from_micros(
                (wait_ms * 1000.0) as u64,
            )));
        }
        let Some(claimed) = super::outbox::claim_one(&mut *tx, holder, at, lease, only).await?
        else {
            tx.commit().await?;
            return Ok(Claim::Nothing);
        };
        sqlx::query(
            "UPDATE dispatch_pace SET next_at = clock_timestamp() + $1 * interval '1 microsecond'",
        )
        .bind(spacing.num_microseconds().unwrap_or(0) as f64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Claim::Claimed(claimed))
    }

    /// Pauses every instance's sends until `until` (on the gateway's clock, like the
    /// claims' `at`), unless a later pause is already set.
    pub async fn pause_dispatch(&self, until: DateTime<Utc>, why: &str) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE dispatch_pace SET paused_until = $1, paused_why = $2
             WHERE paused_until IS NULL OR paused_until < $1",
        )
        .bind(until)
        .bind(why)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
