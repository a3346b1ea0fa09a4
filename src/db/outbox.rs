//! The outbox as rows, shared by every instance: one send per call across instances. A
//! send is claimed with `FOR UPDATE SKIP LOCKED`; the claim and its attempt are committed
//! before the request leaves, with a lease (`claim_expires`). The claimant records the
//! result; a claim that outlives its lease (the instance died mid-send) becomes
//! `unconfirmed`, never sent again on its own. Claims within the deployment's limits are in
//! [`super::pace`].

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;

use super::{Db, DbError};

/// A call claimed for one try.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub request_id: String,
    pub lead_id: String,
    pub phone: String,
    pub body: Value,
    /// This try's number, from 1.
    pub n: i64,
    pub first_try: DateTime<Utc>,
}

/// What a try came to.
#[derive(Debug, Clone, PartialEq)]
pub enum TryResult {
    Sent {
        call_id: String,
    },
    DryRun,
    /// Certainly not taken; try again at `next_try_at`.
    Retry {
        error: String,
        next_try_at: DateTime<Utc>,
    },
    /// Certainly not taken, retries spent (kept for an admin).
    Failed {
        error: String,
    },
    /// Bland may have it (kept for an admin, or its completion).
    Unconfirmed {
        error: String,
    },
    /// Not sent: the calling window closed; the lead is back in the deferred queue.
    Deferred,
}

fn open_of(r: &sqlx::postgres::PgRow) -> Result<OpenCall, sqlx::Error> {
    Ok(OpenCall {
        request_id: r.try_get("request_id")?,
        lead_id: r.try_get("lead_id")?,
        phone: r.try_get("phone")?,
        state: r.try_get("state")?,
        queued_at: r.try_get("queued_at")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
        body: r.try_get("body")?,
    })
}

/// An open outbox row, as admins see it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenCall {
    pub request_id: String,
    pub lead_id: String,
    pub phone: String,
    pub state: String,
    pub queued_at: DateTime<Utc>,
    pub attempts: Value,
    pub last_error: Option<String>,
    pub body: Value,
}

impl Db {
    /// Queues an accepted call; committed when it returns.
    pub async fn enqueue_call(
        &self,
        request_id: &str,
        lead_id: &str,
        phone: &str,
        body: &Value,
        at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        enqueue_call(&self.pool, request_id, lead_id, phone, body, at).await
    }

    /// Claims the oldest due call for `holder` until `at + lease`, recording the attempt.
    pub async fn claim_call(
        &self,
        holder: &str,
        at: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Option<Claimed>, DbError> {
        claim_one(&self.pool, holder, at, lease, None).await
    }

    /// An admin's resend of an `unconfirmed` call: queued again, due at `at`, same request
    /// id. False if it was not unconfirmed.
    pub async fn requeue_call(&self, request_id: &str, at: DateTime<Utc>) -> Result<bool, DbError> {
        let done = sqlx::query(
            "UPDATE outbox SET state = 'queued', next_try_at = $2,
                 last_error = 'resend requested by an admin'
             WHERE request_id = $1 AND state = 'unconfirmed'",
        )
        .bind(request_id)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// An open call by request id.
    pub async fn open_call(&self, request_id: &str) -> Result<Option<OpenCall>, DbError> {
        let row = sqlx::query(
            "SELECT request_id, lead_id, phone, state, queued_at, attempts, last_error, body
             FROM outbox WHERE request_id = $1 AND state <> 'closed'",
        )
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(open_of).transpose().map_err(DbError::from)
    }

    /// The call Bland knows as `call_id`, from its `sent` dispatch line (journaled before
    /// the outbox row is closed): (request id, lead id, phone).
    pub async fn call_by_id(
        &self,
        call_id: &str,
    ) -> Result<Option<(Option<String>, Option<String>, Option<String>)>, DbError> {
        Ok(sqlx::query_as(
            "SELECT request_id, lead_id, phone FROM journal_lines
             WHERE call_id = $1 AND journal = 'calls' ORDER BY id LIMIT 1",
        )
        .bind(call_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Calls journaled as sent between `from` and `until` whose outcome has not arrived.
    pub async fn silent_calls(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<String>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT s.call_id FROM journal_lines s
             WHERE s.journal = 'calls' AND s.call_id IS NOT NULL AND s.at BETWEEN $1 AND $2
               AND NOT EXISTS (SELECT 1 FROM call_outcomes o WHERE o.call_id = s.call_id)",
        )
        .bind(from)
        .bind(until)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The call id a `sent` dispatch line of `request_id` carries, if one was journaled.
    pub async fn journaled_call_id(&self, request_id: &str) -> Result<Option<String>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT call_id FROM journal_lines
             WHERE request_id = $1 AND journal = 'calls' AND call_id IS NOT NULL
             ORDER BY id LIMIT 1",
        )
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Open calls by state: (queued, in flight, unconfirmed, failed, retrying).
    pub async fn outbox_counts(&self) -> Result<[i64; 5], DbError> {
        let r = sqlx::query(
            "SELECT count(*) FILTER (WHERE state = 'queued') AS q,
                    count(*) FILTER (WHERE state = 'in_flight') AS f,
                    count(*) FILTER (WHERE state = 'unconfirmed') AS u,
                    count(*) FILTER (WHERE state = 'failed') AS x,
                    count(*) FILTER (WHERE state IN ('queued', 'in_flight')
                                     AND last_error IS NOT NULL) AS r
             FROM outbox WHERE state <> 'closed'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok([
            r.try_get("q")?,
            r.try_get("f")?,
            r.try_get("u")?,
            r.try_get("x")?,
            r.try_get("r")?,
        ])
    }

    /// Records the result of `holder`'s try. False if the claim was no longer `holder`'s
    /// (it expired and the call was marked unconfirmed): the result is then not applied.
    pub async fn record_try(
        &self,
        request_id: &str,
        holder: &str,
        result: &TryResult,
        at: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let (state, error, next_try, outcome, call_id) = match result {
            TryResult::Sent { call_id } => ("closed", None, None, "sent", Some(call_id.as_str())),
            TryResult::DryRun => ("closed", None, None, "dry_run", None),
            TryResult::Deferred => ("closed", None, None, "deferred", None),
            TryResult::Retry { error, next_try_at } => {
                ("queued", Some(error.as_str()), Some(*next_try_at), "", None)
            }
            TryResult::Failed { error } => ("failed", Some(error.as_str()), None, "", None),
            TryResult::Unconfirmed { error } => {
                ("unconfirmed", Some(error.as_str()), None, "", None)
            }
        };
        let done = sqlx::query(
            "UPDATE outbox SET state = $3, last_error = COALESCE($4, last_error),
                 next_try_at = COALESCE($5, next_try_at), outcome = NULLIF($6, ''),
                 call_id = COALESCE($7, call_id), claimed_by = NULL, claim_expires = NULL,
                 closed_at = CASE WHEN $3 = 'closed' THEN $8 ELSE NULL END,
                 attempts = CASE WHEN $4 IS NULL THEN attempts ELSE jsonb_set(attempts,
                     ARRAY[(jsonb_array_length(attempts) - 1)::text, 'error'], to_jsonb($4::text)) END
             WHERE request_id = $1 AND state = 'in_flight' AND claimed_by = $2",
        )
        .bind(request_id)
        .bind(holder)
        .bind(state)
        .bind(error)
        .bind(next_try)
        .bind(outcome)
        .bind(call_id)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Claims whose lease ran out by `at` (their instance stopped mid-send) become
    /// `unconfirmed`. Returns their request ids.
    pub async fn expire_claims(&self, at: DateTime<Utc>) -> Result<Vec<String>, DbError> {
        Ok(sqlx::query_scalar(
            "UPDATE outbox SET state = 'unconfirmed', claimed_by = NULL, claim_expires = NULL,
                 last_error = 'the instance sending this call stopped; Bland may have it'
             WHERE state = 'in_flight' AND claim_expires <= $1
             RETURNING request_id",
        )
        .bind(at)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Calls not yet settled, oldest first.
    pub async fn open_calls(&self) -> Result<Vec<OpenCall>, DbError> {
        let rows = sqlx::query(
            "SELECT request_id, lead_id, phone, state, queued_at, attempts, last_error, body
             FROM outbox WHERE state <> 'closed' ORDER BY queued_at, request_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| open_of(r).map_err(DbError::from))
            .collect()
    }

    /// Whether `request_id` ever reached the outbox (open or closed).
    pub async fn has_call(&self, request_id: &str) -> Result<bool, DbError> {
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM outbox WHERE request_id = $1)")
                .bind(request_id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Settles an `unconfirmed` or `failed` call by an admin or a completion: closed as
    /// `sent` (with its call id) or `cancelled`. False if it was not in one of those states.
    pub async fn settle_call(
        &self,
        request_id: &str,
        sent_as: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let outcome = if sent_as.is_some() {
            "sent"
        } else {
            "cancelled"
        };
        let done = sqlx::query(
            "UPDATE outbox SET state = 'closed', outcome = $2, call_id = COALESCE($3, call_id),
                 closed_at = $4
             WHERE request_id = $1 AND state IN ('unconfirmed', 'failed')",
        )
        .bind(request_id)
        .bind(outcome)
        .bind(sent_as)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Queues an accepted call; committed when it returns.
pub(super) async fn enqueue_call<'e>(
    ex: impl sqlx::PgExecutor<'e>,
    request_id: &str,
    lead_id: &str,
    phone: &str,
    body: &Value,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO outbox (request_id, lead_id, phone, body, state, queued_at, next_try_at)
         VALUES ($1, $2, $3, $4, 'queued', $5, $5)",
    )
    .bind(request_id)
    .bind(lead_id)
    .bind(phone)
    .bind(body)
    .bind(at)
    .execute(ex)
    .await?;
    Ok(())
}

/// Claims `only` (whatever its `next_try_at`) or else the oldest due call, recording the
/// attempt and the lease.
pub(super) async fn claim_one<'e>(
    ex: impl sqlx::PgExecutor<'e>,
    holder: &str,
    at: DateTime<Utc>,
    lease: chrono::Duration,
    only: Option<&str>,
) -> Result<Option<Claimed>, DbError> {
    let row = sqlx::query(
        "UPDATE outbox o SET state = 'in_flight', claimed_by = $1, claim_expires = $3,
             attempts = o.attempts || jsonb_build_array(jsonb_build_object(
                 'n', jsonb_array_length(o.attempts) + 1, 'at', $2::timestamptz))
         WHERE o.request_id = (
             SELECT request_id FROM outbox
             WHERE state = 'queued'
               AND (($4::text IS NULL AND next_try_at <= $2) OR request_id = $4)
             ORDER BY next_try_at, queued_at
             FOR UPDATE SKIP LOCKED LIMIT 1)
         RETURNING o.request_id, o.lead_id, o.phone, o.body,
             jsonb_array_length(o.attempts)::bigint AS n,
             (o.attempts -> 0 ->> 'at')::timestamptz AS first_try",
    )
    .bind(holder)
    .bind(at)
    .bind(at + lease)
    .bind(only)
    .fetch_optional(ex)
    .await?;
    row.map(|r| {
        Ok(Claimed {
            request_id: r.try_get("request_id")?,
            lead_id: r.try_get("lead_id")?,
            phone: r.try_get("phone")?,
            body: r.try_get("body")?,
            n: r.try_get("n")?,
            first_try: r.try_get("first_try")?,
        })
    })
    .transpose()
}
