//! The calls placed from caller-ID pool numbers (`caller_id_calls`): a take counts a call
//! under the number's transaction-scoped advisory lock when its caps allow, so two
//! instances never exceed a number's cap together; outcomes fill in the row.

use chrono::{DateTime, Utc};

use super::{Db, DbError};

/// One call from a pool number, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CallerIdCall {
    pub request_id: String,
    pub number: String,
    pub phone: String,
    pub at: DateTime<Utc>,
    pub outcome: Option<String>,
    pub outcome_at: Option<DateTime<Utc>>,
}

/// A call to count from `number`, if its caps allow: at most `hourly_cap` since `hour` and
/// `daily_cap` since `day` (the call's own earlier row not counted).
pub struct Take<'a> {
    pub request_id: &'a str,
    pub number: &'a str,
    pub phone: &'a str,
    pub at: DateTime<Utc>,
    pub hour: DateTime<Utc>,
    pub day: DateTime<Utc>,
    pub hourly_cap: Option<u32>,
    pub daily_cap: Option<u32>,
    /// Rows older than this are let go.
    pub keep_since: DateTime<Utc>,
}

impl Db {
    /// Counts the call if the number's caps allow it; whether it was counted.
    pub async fn take_caller_id(&self, t: &Take<'_>) -> Result<bool, DbError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtextextended('callgate_caller_id:' || $1, 0))",
        )
        .bind(t.number)
        .execute(&mut *tx)
        .await?;
        let (hour, day): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE at >= $2), count(*) FILTER (WHERE at >= $3)
             FROM caller_id_calls
             WHERE number = $1 AND at >= LEAST($2, $3) AND request_id <> $4",
        )
        .bind(t.number)
        .bind(t.hour)
        .bind(t.day)
        .bind(t.request_id)
        .fetch_one(&mut *tx)
        .await?;
        let over = |cap: Option<u32>, used: i64| cap.is_some_and(|c| used >= i64::from(c));
        if over(t.hourly_cap, hour) || over(t.daily_cap, day) {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO caller_id_calls (request_id, number, phone, at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (request_id) DO UPDATE
             SET number = $2, phone = $3, at = $4, outcome = NULL, outcome_at = NULL",
        )
        .bind(t.request_id)
        .bind(t.number)
        .bind(t.phone)
        .bind(t.at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM caller_id_calls WHERE number = $1 AND at < $2")
            .bind(t.number)
            .bind(t.keep_since)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A try that placed nothing gives its count back.
    pub async fn give_back_caller_id(&self, request_id: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM caller_id_calls WHERE request_id = $1 AND outcome IS NULL")
            .bind(request_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Adds calls placed before the pool existed (the Node import); a row already there
    /// is left as it is. How many were added.
    pub async fn seed_caller_id_calls(&self, rows: &[CallerIdCall]) -> Result<usize, DbError> {
        let col = |f: fn(&CallerIdCall) -> String| rows.iter().map(f).collect::<Vec<_>>();
        let added = sqlx::query(
            "INSERT INTO caller_id_calls (request_id, number, phone, at, outcome, outcome_at)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[],
                                  $5::text[], $6::timestamptz[])
             ON CONFLICT (request_id) DO NOTHING",
        )
        .bind(col(|r| r.request_id.clone()))
        .bind(col(|r| r.number.clone()))
        .bind(col(|r| r.phone.clone()))
        .bind(rows.iter().map(|r| r.at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.outcome.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.outcome_at).collect::<Vec<_>>())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(usize::try_from(added).unwrap_or(usize::MAX))
    }

    /// Records a call's outcome; the number it was placed from, if it was a pool call.
    pub async fn caller_id_outcome(
        &self,
        request_id: &str,
        outcome: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<String>, DbError> {
        Ok(sqlx::query_scalar(
            "UPDATE caller_id_calls SET outcome = $2, outcome_at = $3
             WHERE request_id = $1 RETURNING number",
        )
        .bind(request_id)
        .bind(outcome)
        .bind(at)
        .fetch_optional(&self.pool)
        .await?)
    }
}

type Row = (
    String,
    String,
    String,
    DateTime<Utc>,
    Option<String>,
    Option<DateTime<Utc>>,
);

fn call(r: Row) -> CallerIdCall {
    let (request_id, number, phone, at, outcome, outcome_at) = r;
    CallerIdCall {
        request_id,
        number,
        phone,
        at,
        outcome,
        outcome_at,
    }
}

impl Db {
    /// The pool calls placed since `since`, oldest first.
    pub async fn caller_id_calls(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<CallerIdCall>, DbError> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT request_id, number, phone, at, outcome, outcome_at
             FROM caller_id_calls WHERE at >= $1 ORDER BY at, request_id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(call).collect())
    }
}
