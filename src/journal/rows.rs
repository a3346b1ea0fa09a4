//! The journals as rows in PostgreSQL (`DATABASE_URL`): the same JSON lines the files hold,
//! one row each ([`crate::db::journals`]). Appends are group-committed like the files: a
//! writer task gathers every batch that arrived while the previous transaction committed
//! and commits them together, and each caller's [`Pending`] resolves after its commit.
//!
//! Readers here are blocking (they run on the blocking pool or at startup outside any
//! task, like the file readers) and wait on the runtime the rows were opened on.

use std::io;

use chrono::NaiveDate;
use tokio::sync::{mpsc, oneshot};

use super::{Attempt, CallEvent};
use crate::db::journals::{Journal, JournalLine};
use crate::db::{Db, DbError};
use crate::store::appender::Pending;
use crate::store::{StoreError, StoreResult};

/// Most lines committed in one transaction.
const MAX_BATCH: usize = 4096;

type Batch = (Vec<JournalLine>, oneshot::Sender<StoreResult<()>>);

/// The database side of [`super::Journals`].
pub struct Rows {
    db: Db,
    handle: tokio::runtime::Handle,
    tx: mpsc::UnboundedSender<Batch>,
}

impl Rows {
    /// Starts the batch writer on the current runtime.
    pub fn start(db: Db) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(db.clone(), rx));
        Self {
            db,
            handle: tokio::runtime::Handle::current(),
            tx,
        }
    }

    /// Queues `lines` (one transaction with whatever else is waiting); resolves once
    /// committed.
    pub fn append(&self, lines: Vec<JournalLine>) -> Pending {
        let (reply, rx) = oneshot::channel();
        if self.tx.send((lines, reply)).is_err() {
            return Pending::settled(Err(
                io::Error::other("database journal writer stopped").into()
            ));
        }
        Pending::from_receiver(rx)
    }

    /// Runs a query from blocking code.
    pub fn block_on<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, crate::db::DbError>>,
    ) -> StoreResult<T> {
        Ok(self.handle.block_on(fut)?)
    }

    /// One business day of `journal` as the file would hold it (lines joined by `\n`),
    /// and how many rows that is.
    pub fn day_bytes(&self, journal: Journal, date: NaiveDate) -> StoreResult<Vec<u8>> {
        let lines = self.block_on(self.db.day_lines(journal, date))?;
        Ok(join(&lines))
    }

    /// How many rows one business day of `journal` has (statistics re-read a day whose
    /// count changed).
    pub fn day_count(&self, journal: Journal, date: NaiveDate) -> StoreResult<u64> {
        self.block_on(self.db.day_count(journal, date))
    }

    /// The id of a day's last line (0 for none).
    pub fn day_last_id(&self, journal: Journal, date: NaiveDate) -> StoreResult<u64> {
        self.block_on(self.db.day_last_id(journal, date))
    }

    /// A day's stored rollup and the marker of the lines it covers.
    pub fn day_summary(
        &self,
        journal: Journal,
        date: NaiveDate,
    ) -> StoreResult<Option<(u64, serde_json::Value)>> {
        self.block_on(self.db.day_summary(journal, date))
    }

    /// Keeps a closed day's rollup for every instance.
    pub fn store_day_summary(
        &self,
        journal: Journal,
        date: NaiveDate,
        lines: u64,
        summary: &serde_json::Value,
    ) -> StoreResult<()> {
        self.block_on(self.db.store_day_summary(journal, date, lines, summary))
    }
}

impl super::JournalStore for Rows {
    fn append(&self, records: &[super::Record<'_>]) -> Pending {
        let lines = records
            .iter()
            .map(|r| match r {
                super::Record::Call(e, date) => call_line(e, *date),
                super::Record::Attempt(a, date, _) => attempt_line(a, *date),
            })
            .collect();
        Rows::append(self, lines)
    }

    /// Each append resolves at its commit: nothing is waiting to be made durable.
    fn flush(&self) -> Pending {
        Pending::settled(Ok(()))
    }

    fn day_bytes(&self, kind: Journal, date: NaiveDate) -> StoreResult<Vec<u8>> {
        Rows::day_bytes(self, kind, date)
    }

    /// A settled day (no decision still committing into it) is known by its last line's
    /// id, one index probe; a recent one by its count.
    fn day_marker(&self, kind: Journal, date: NaiveDate, settled: bool) -> StoreResult<u64> {
        if settled {
            self.day_last_id(kind, date)
        } else {
            self.day_count(kind, date)
        }
    }

    /// Rows are read a whole day at a time.
    fn day_since(
        &self,
        _kind: Journal,
        _date: NaiveDate,
        _from: u64,
        _to: u64,
    ) -> StoreResult<Option<Vec<u8>>> {
        Ok(None)
    }

    fn kept_summary(
        &self,
        kind: Journal,
        date: NaiveDate,
    ) -> StoreResult<Option<(u64, serde_json::Value)>> {
        self.day_summary(kind, date)
    }

    fn keep_summary(
        &self,
        kind: Journal,
        date: NaiveDate,
        marker: u64,
        summary: &serde_json::Value,
    ) -> StoreResult<()> {
        self.store_day_summary(kind, date, marker, summary)
    }

    fn purge_before(
        &self,
        oldest_kept: NaiveDate,
    ) -> futures_util::future::BoxFuture<'_, StoreResult<u64>> {
        Box::pin(async move {
            let n = self.db.purge_journals(oldest_kept).await?;
            if n > 0 {
                tracing::info!(removed = n, %oldest_kept, "journal retention");
            }
            Ok(n)
        })
    }

    /// A decision and its attempt commit in one transaction: nothing is ever missing.
    fn restore_attempts<'a>(
        &'a self,
        _days: &'a [NaiveDate],
    ) -> futures_util::future::BoxFuture<'a, StoreResult<usize>> {
        Box::pin(async { Ok(0) })
    }
}

fn join(lines: &[String]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in lines {
        bytes.extend_from_slice(l.as_bytes());
        bytes.push(b'\n');
    }
    bytes
}

async fn write_batches(db: Db, mut rx: mpsc::UnboundedReceiver<Batch>) {
    while let Some(first) = rx.recv().await {
        let mut replies = vec![first.1];
        let mut lines = first.0;
        while lines.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok((more, reply)) => {
                    lines.extend(more);
                    replies.push(reply);
                }
                Err(_) => break,
            }
        }
        let result = db.append_lines(&lines).await;
        if let Err(e) = &result {
            tracing::error!(error = %e, lines = lines.len(), "could not commit journal lines");
        }
        for reply in replies {
            let _ = reply.send(
                result
                    .as_ref()
                    .map(|_| ())
                    .map_err(|e| StoreError::Database(DbError::Reported(e.to_string()))),
            );
        }
    }
}

/// The row of a call-journal event: its JSON line and the keys it is found by.
pub fn call_line(event: &CallEvent, date: NaiveDate) -> JournalLine {
    let (request_id, lead_id, phone, call_id) = keys(event);
    JournalLine {
        journal: Journal::Calls,
        business_date: date,
        at: event.at(),
        request_id: request_id.cloned(),
        lead_id: lead_id.cloned(),
        phone: phone.cloned(),
        call_id: call_id.cloned(),
        line: super::to_text(event),
    }
}

type Keys<'a> = (
    Option<&'a String>,
    Option<&'a String>,
    Option<&'a String>,
    Option<&'a String>,
);

/// A call event's indexed columns: request id, lead id, phone, call id.
fn keys(event: &CallEvent) -> Keys<'_> {
    match event {
        CallEvent::Decision {
            request_id,
            lead_id,
            phone,
            ..
        }
        | CallEvent::Dequeued {
            request_id,
            lead_id,
            phone,
            ..
        } => (Some(request_id), lead_id.as_ref(), phone.as_ref(), None),
        CallEvent::Rejected { request_id, .. } | CallEvent::Reconciled { request_id, .. } => {
            (Some(request_id), None, None, None)
        }
        CallEvent::Redial {
            request_id,
            lead_id,
            phone,
            ..
        } => (request_id.as_ref(), Some(lead_id), Some(phone), None),
        CallEvent::Dispatch {
            request_id,
            lead_id,
            phone,
            call_id,
            ..
        } => (
            Some(request_id),
            lead_id.as_ref(),
            phone.as_ref(),
            call_id.as_ref(),
        ),
        CallEvent::Outcome {
            request_id,
            lead_id,
            phone,
            call_id,
            ..
        } => (
            request_id.as_ref(),
            lead_id.as_ref(),
            phone.as_ref(),
            Some(call_id),
        ),
        CallEvent::External {
            request_id,
            lead_id,
            phone,
            ..
        }
        | CallEvent::Callback {
            request_id,
            lead_id,
            phone,
            ..
        } => (Some(request_id), Some(lead_id), Some(phone), None),
        CallEvent::Reply {
            request_id,
            lead_id,
            phone,
            ..
        } => (Some(request_id), lead_id.as_ref(), Some(phone), None),
        CallEvent::SmsScheduled(t)
        | CallEvent::SmsSent(t)
        | CallEvent::SmsBlocked(t)
        | CallEvent::SmsFailed(t) => (None, Some(&t.lead_id), Some(&t.phone), None),
    }
}

/// The row of a blocked attempt.
pub fn attempt_line(attempt: &Attempt, date: NaiveDate) -> JournalLine {
    JournalLine {
        journal: Journal::Attempts,
        business_date: date,
        at: attempt.at(),
        request_id: attempt.request_id.clone(),
        lead_id: attempt.lead_id.clone(),
        phone: attempt.phone.clone(),
        call_id: None,
        line: super::to_text(attempt),
    }
}
