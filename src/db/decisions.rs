//! One accept per number across instances: a decision about a number is made inside a
//! transaction that holds a transaction-scoped advisory lock on that number
//! (`pg_advisory_xact_lock(hashtextextended(phone, 0))`, released at commit or rollback,
//! never left behind on a pooled connection). Inside it the deciding instance reads the
//! number's recent call-journal lines (every instance's), decides, and writes the decision,
//! its outbox row or deferred row in the same commit. A second instance deciding about the
//! same number waits for that commit and then sees it.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{Postgres, Transaction};

use super::deferred::DeferredRow;
use super::journals::JournalLine;
use super::{Db, DbError};

/// A decision under way: the number's lock is held until [`NumberTx::commit`] (or drop,
/// which rolls back).
pub struct NumberTx {
    tx: Transaction<'static, Postgres>,
    phone: String,
}

impl Db {
    /// Begins a decision about `phone`: waits for any other instance deciding about it.
    pub async fn lock_number(&self, phone: &str) -> Result<NumberTx, DbError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("number\u{1f}{phone}"))
            .execute(&mut *tx)
            .await?;
        Ok(NumberTx {
            tx,
            phone: phone.to_string(),
        })
    }
}

impl Db {
    /// Begins decisions about several numbers at once (a batch of webhooks): their locks
    /// are taken in one statement, in key order, so two batches sharing numbers (on any
    /// instances) wait for each other instead of deadlocking.
    pub async fn lock_numbers(&self, phones: &[&str]) -> Result<NumberTx, DbError> {
        let mut tx = self.pool.begin().await?;
        let keys: Vec<String> = phones.iter().map(|p| format!("number\u{1f}{p}")).collect();
        sqlx::query(
            "SELECT pg_advisory_xact_lock(k) FROM
               (SELECT DISTINCT hashtextextended(t, 0) AS k FROM unnest($1::text[]) AS t) s
             ORDER BY k",
        )
        .bind(&keys)
        .execute(&mut *tx)
        .await?;
        Ok(NumberTx {
            tx,
            phone: String::new(),
        })
    }
}

impl NumberTx {
    /// The call-journal lines of each of `phones` at or after `since`, oldest first, as
    /// (phone, line).
    pub async fn histories(
        &mut self,
        phones: &[&str],
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, DbError> {
        // Planned at each call with its numbers (not a cached generic plan): the table
        // grows from empty, and a plan made then would scan it whole ever after.
        Ok(sqlx::query_as(
            "SELECT phone, line FROM journal_lines
             WHERE journal = 'calls' AND phone = ANY($1) AND at >= $2 ORDER BY at, id",
        )
        .persistent(false)
        .bind(phones)
        .bind(since)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    /// Queues an accepted call for `phone` in this transaction (batches).
    pub async fn enqueue_call_for(
        &mut self,
        phone: &str,
        request_id: &str,
        lead_id: &str,
        body: &Value,
        at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        super::outbox::enqueue_call(&mut *self.tx, request_id, lead_id, phone, body, at).await
    }

    /// The number's call-journal lines at or after `since`, oldest first: what the
    /// trackers need (accepted calls in the rolling window, the call in flight, outcomes).
    pub async fn history(&mut self, since: DateTime<Utc>) -> Result<Vec<String>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT line FROM journal_lines
             WHERE journal = 'calls' AND phone = $1 AND at >= $2 ORDER BY at, id",
        )
        .persistent(false)
        .bind(&self.phone)
        .bind(since)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    /// Journals the decision (and a block's attempt) in this transaction.
    pub async fn append_lines(&mut self, lines: &[JournalLine]) -> Result<(), DbError> {
        super::journals::append_lines(&mut *self.tx, lines).await
    }

    /// Queues the accepted call in this transaction.
    pub async fn enqueue_call(
        &mut self,
        request_id: &str,
        lead_id: &str,
        body: &Value,
        at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        let phone = self.phone.clone();
        super::outbox::enqueue_call(&mut *self.tx, request_id, lead_id, &phone, body, at).await
    }

    /// Defers the lead in this transaction; returns the queue row's id.
    pub async fn defer_lead(&mut self, row: &DeferredRow) -> Result<String, DbError> {
        super::deferred::defer_lead(&mut *self.tx, row).await
    }

    /// Ends the release of deferred row `id` in this transaction (see
    /// [`super::deferred::Again`]). False if the claim was no longer `holder`'s.
    pub async fn finish_release(
        &mut self,
        id: &str,
        holder: &str,
        again: Option<super::deferred::Again<'_>>,
    ) -> Result<bool, DbError> {
        super::deferred::finish_release(&mut *self.tx, id, holder, again).await
    }

    /// Makes the decision durable and lets the next decision about the number go ahead.
    pub async fn commit(self) -> Result<(), DbError> {
        self.tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
impl Db {
    /// How many sessions wait for an advisory lock (the decision tests).
    pub async fn advisory_waiters(&self) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        )
        .fetch_one(&self.pool)
        .await?)
    }
}
