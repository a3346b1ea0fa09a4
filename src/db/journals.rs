//! The journals as rows ([`JournalLine`]): appended in one transaction per batch (committed
//! before the caller answers, like the file backend's fsync), read back per business day in
//! the order they were written (the statistics fold the very same JSON lines), and found by
//! phone or lead id over a time range (lookups, and the trackers of several instances).

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use super::{Db, DbError};

/// Which journal a line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Journal {
    Calls,
    Attempts,
}

impl Journal {
    fn name(self) -> &'static str {
        match self {
            Self::Calls => "calls",
            Self::Attempts => "attempts",
        }
    }
}

/// One line to append: the JSON as the file backend writes it, and its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalLine {
    pub journal: Journal,
    pub business_date: NaiveDate,
    pub at: DateTime<Utc>,
    pub request_id: Option<String>,
    pub lead_id: Option<String>,
    pub phone: Option<String>,
    pub call_id: Option<String>,
    pub line: String,
}

impl Db {
    /// Appends `lines` in one transaction, in order; committed when it returns.
    pub async fn append_lines(&self, lines: &[JournalLine]) -> Result<(), DbError> {
        append_lines(&self.pool, lines).await
    }

    /// Every line of `journal` for one business date, in the order written.
    pub async fn day_lines(
        &self,
        journal: Journal,
        date: NaiveDate,
    ) -> Result<Vec<String>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT line FROM journal_lines WHERE journal = $1 AND business_date = $2 ORDER BY id",
        )
        .bind(journal.name())
        .bind(date)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Retention: removes every journal line of a business date before `oldest_kept`;
    /// returns how many.
    pub async fn purge_journals(&self, oldest_kept: NaiveDate) -> Result<u64, DbError> {
        Ok(
            sqlx::query("DELETE FROM journal_lines WHERE business_date < $1")
                .bind(oldest_kept)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// The id of the last line `journal` has for one business date (0 for none): one
    /// index probe, so a settled day is checked for late lines without counting it.
    pub async fn day_last_id(&self, journal: Journal, date: NaiveDate) -> Result<u64, DbError> {
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT max(id) FROM journal_lines WHERE journal = $1 AND business_date = $2",
        )
        .bind(journal.name())
        .bind(date)
        .fetch_one(&self.pool)
        .await?;
        Ok(id.and_then(|i| u64::try_from(i).ok()).unwrap_or(0))
    }

    /// A day's stored rollup, with the marker of the lines it covers (see
    /// [`Db::day_last_id`]).
    pub async fn day_summary(
        &self,
        journal: Journal,
        date: NaiveDate,
    ) -> Result<Option<(u64, serde_json::Value)>, DbError> {
        let row: Option<(i64, serde_json::Value)> = sqlx::query_as(
            "SELECT lines, summary FROM day_summaries WHERE journal = $1 AND business_date = $2",
        )
        .bind(journal.name())
        .bind(date)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(n, v)| (u64::try_from(n).unwrap_or(0), v)))
    }

    /// Keeps a closed day's rollup (replacing an older one).
    pub async fn store_day_summary(
        &self,
        journal: Journal,
        date: NaiveDate,
        lines: u64,
        summary: &serde_json::Value,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO day_summaries (journal, business_date, lines, summary)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (journal, business_date) DO UPDATE
             SET lines = EXCLUDED.lines, summary = EXCLUDED.summary",
        )
        .bind(journal.name())
        .bind(date)
        .bind(i64::try_from(lines).unwrap_or(i64::MAX))
        .bind(summary)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// How many lines `journal` has for one business date.
    pub async fn day_count(&self, journal: Journal, date: NaiveDate) -> Result<u64, DbError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM journal_lines WHERE journal = $1 AND business_date = $2",
        )
        .bind(journal.name())
        .bind(date)
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Journals a Bland completion once per `call_id` across instances: the outcome line
    /// is committed with the claim on the call id. False (nothing written) when another
    /// delivery of this completion was recorded first.
    pub async fn record_outcome(&self, line: &JournalLine) -> Result<bool, DbError> {
        let mut tx = self.pool.begin().await?;
        let fresh = sqlx::query(
            "INSERT INTO call_outcomes (call_id, request_id, at) VALUES ($1, $2, $3)
             ON CONFLICT (call_id) DO NOTHING",
        )
        .bind(&line.call_id)
        .bind(&line.request_id)
        .bind(line.at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if fresh {
            append_lines(&mut *tx, std::slice::from_ref(line)).await?;
        }
        tx.commit().await?;
        Ok(fresh)
    }

    /// True once `call_id`'s outcome is recorded (by any instance).
    pub async fn outcome_recorded(&self, call_id: &str) -> Result<bool, DbError> {
        Ok(
            sqlx::query_scalar::<_, i32>("SELECT 1 FROM call_outcomes WHERE call_id = $1")
                .bind(call_id)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// The call-journal lines for a number and/or a lead id at or after `since` and before
    /// `until`, oldest first, at most `limit`.
    pub async fn lines_for(
        &self,
        phone: Option<&str>,
        lead_id: Option<&str>,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>, DbError> {
        let rows = sqlx::query(
            "SELECT line FROM journal_lines
             WHERE journal = 'calls' AND at >= $3 AND at < $4
               AND ($1::text IS NULL OR phone = $1) AND ($2::text IS NULL OR lead_id = $2)
             ORDER BY at, id LIMIT $5",
        )
        .bind(phone)
        .bind(lead_id)
        .bind(since)
        .bind(until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("line").map_err(DbError::from))
            .collect()
    }
}

/// Appends `lines` in one transaction, in order; committed when it returns.
pub(super) async fn append_lines<'e>(
    ex: impl sqlx::PgExecutor<'e>,
    lines: &[JournalLine],
) -> Result<(), DbError> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut journals = Vec::with_capacity(lines.len());
    let (mut dates, mut ats, mut requests, mut leads, mut phones, mut calls, mut texts) = (
        Vec::with_capacity(lines.len()),
        Vec::with_capacity(lines.len()),
        Vec::with_capacity(lines.len()),
        Vec::with_capacity(lines.len()),
        Vec::with_capacity(lines.len()),
        Vec::with_capacity(lines.len()),
        Vec::with_capacity(lines.len()),
    );
    for l in lines {
        journals.push(l.journal.name());
        dates.push(l.business_date);
        ats.push(l.at);
        requests.push(l.request_id.clone());
        leads.push(l.lead_id.clone());
        phones.push(l.phone.clone());
        calls.push(l.call_id.clone());
        texts.push(l.line.clone());
    }
    // One statement for the batch; `WITH ORDINALITY` keeps the ids in the given order.
    sqlx::query(
        "INSERT INTO journal_lines
           (journal, business_date, at, request_id, lead_id, phone, call_id, line)
         SELECT j, d, a, r, l, p, c, t
         FROM unnest($1::text[], $2::date[], $3::timestamptz[], $4::text[], $5::text[],
                     $6::text[], $7::text[], $8::text[])
              WITH ORDINALITY AS u(j, d, a, r, l, p, c, t, n)
         ORDER BY n",
    )
    .bind(&journals)
    .bind(&dates)
    .bind(&ats)
    .bind(&requests)
    .bind(&leads)
    .bind(&phones)
    .bind(&calls)
    .bind(&texts)
    .execute(ex)
    .await?;
    Ok(())
}
