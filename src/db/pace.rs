//! Claiming a call within the deployment's limits: at most `BLAND_MAX_CONCURRENT` calls in
//! flight across instances, and sends started at least `1 / BLAND_MAX_CALLS_PER_SECOND`
//! apart on the database's clock, decided under one transaction-scoped lock; none at all
//! while a 429 from the provider pauses the deployment (`paused_until`) or a calling
//! budget is spent (the tries of `dispatch_starts` in the hour and day the caller names).

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
    /// A calling budget is spent until `until` (the next hour or business day).
    Held {
        until: DateTime<Utc>,
    },
}

/// The deployment's limits on sending.
pub struct Limits<'a> {
    pub max_in_flight: i64,
    /// Least time between two starts.
    pub spacing: chrono::Duration,
    pub budget: Option<BudgetCheck<'a>>,
}

/// The calling budgets at a claim's instant: where its hour and business day start, and
/// until when no try may start given the tries counted in each (`None`: one may now).
pub struct BudgetCheck<'a> {
    pub hour: DateTime<Utc>,
    pub day: DateTime<Utc>,
    pub held_until: &'a (dyn Fn(u64, u64) -> Option<DateTime<Utc>> + Send + Sync),
}

/// Tries started in the current hour and business day, before the claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    pub hour: u64,
    pub day: u64,
}

impl Db {
    /// Claims a call for `holder` within the deployment's limits: none while a 429 pauses
    /// sending or a calling budget is spent, at most `max_in_flight` calls in flight across
    /// instances, and sends started at least `spacing` apart (on the database's clock,
    /// shared by every instance). `only` claims that queued call whatever its
    /// `next_try_at` (this instance's own retry timer fired); otherwise the oldest due.
    /// With the claim, the budgets' use before it (when a budget is set).
    pub async fn claim_paced(
        &self,
        holder: &str,
        at: DateTime<Utc>,
        lease: chrono::Duration,
        only: Option<&str>,
        limits: &Limits<'_>,
    ) -> Result<(Claim, Option<Started>), DbError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('callgate_dispatch', 0))")
            .execute(&mut *tx)
            .await?;
        let used = match &limits.budget {
            Some(b) => Some(started_in(&mut tx, b, at).await?),
            None => None,
        };
        let claim = match held(&mut tx, at, limits, used).await? {
            Some(held) => held,
            None => match super::outbox::claim_one(&mut *tx, holder, at, lease, only).await? {
                None => Claim::Nothing,
                Some(claimed) => {
                    started(&mut tx, at, limits.spacing).await?;
                    Claim::Claimed(claimed)
                }
            },
        };
        tx.commit().await?;
        Ok((claim, used))
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

/// Why no call may be claimed now, if none may.
async fn held(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    at: DateTime<Utc>,
    limits: &Limits<'_>,
    used: Option<Started>,
) -> Result<Option<Claim>, DbError> {
    // The pace row once: the pause, and how long until the next start is allowed.
    let (paused_until, why, wait_ms): (Option<DateTime<Utc>>, Option<String>, f64) =
        sqlx::query_as(
            "SELECT paused_until, paused_why,
                    GREATEST(0, EXTRACT(EPOCH FROM (next_at - clock_timestamp())) * 1000)::float8
             FROM dispatch_pace",
        )
        .fetch_one(&mut **tx)
        .await?;
    if let Some(until) = paused_until.filter(|u| *u > at) {
        let why = why.unwrap_or_default();
        return Ok(Some(Claim::Paused { until, why }));
    }
    let budget = limits.budget.as_ref().zip(used);
    if let Some(until) = budget.and_then(|(b, u)| (b.held_until)(u.hour, u.day)) {
        return Ok(Some(Claim::Held { until }));
    }
    let in_flight: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE state = 'in_flight'")
            .fetch_one(&mut **tx)
            .await?;
    if in_flight >= limits.max_in_flight {
        return Ok(Some(Claim::Full));
    }
    Ok((wait_ms > 0.0)
        .then(|| Claim::Wait(std::time::Duration::from_micros((wait_ms * 1000.0) as u64))))
}

/// The tries started in the hour and the business day of `b`, up to `at`.
async fn started_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    b: &BudgetCheck<'_>,
    at: DateTime<Utc>,
) -> Result<Started, DbError> {
    let (hour, day): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE at >= $1), count(*) FILTER (WHERE at >= $2)
         FROM dispatch_starts WHERE at >= LEAST($1, $2) AND at <= $3",
    )
    .bind(b.hour)
    .bind(b.day)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Started {
        hour: hour.max(0) as u64,
        day: day.max(0) as u64,
    })
}

/// A try starts at `at`: the pace moves on, the budgets count it (tries older than two
/// days, which no budget counts, are let go).
async fn started(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    at: DateTime<Utc>,
    spacing: chrono::Duration,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE dispatch_pace SET next_at = clock_timestamp() + $1 * interval '1 microsecond'",
    )
    .bind(spacing.num_microseconds().unwrap_or(0) as f64)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM dispatch_starts WHERE at < $1 - interval '2 days'")
        .bind(at)
        .execute(&mut **tx)
        .await?;
    sqlx::query("INSERT INTO dispatch_starts (at) VALUES ($1)")
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
