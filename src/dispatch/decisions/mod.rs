//! The decision's storage role: [`Decisions::begin`] opens a unit of work
//! ([`DecisionUnit`]) for the numbers of one or more leads — no other decision about those
//! numbers, on any instance, runs until it ends — and the unit takes what the decisions
//! write (a deferral or the end of a release, the journal lines, the accepted call) and
//! makes all of it durable at [`DecisionUnit::commit`]. The trackers see each decision as
//! it is recorded, so the next lead of a unit for the same number sees the one before.
//!
//! Two implementations, picked in `startup/`: [`FileDecisions`] (a stripe lock per number
//! held while the pipeline runs, let go before the group-committed appends to the
//! journals, the outbox and the queue are awaited) and [`DbDecisions`] (a transaction
//! holding each number's advisory lock; every instance's history for the numbers read
//! into the trackers first; one commit). The gateway runs one decision over either
//! (`Gateway::decide_all`).

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use crate::domain::Lead;
use crate::journal::CallEvent;
use crate::schedule::queue::{Deferral, Entry};
use crate::store::StoreError;

mod file;
mod rows;
#[cfg(test)]
mod tests;

pub use file::FileDecisions;
pub use rows::DbDecisions;

/// An accepted call for the outbox.
pub struct QueuedCall<'a> {
    pub request_id: &'a str,
    pub lead_id: &'a str,
    pub phone: &'a str,
    pub body: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// Where decisions are made durable.
pub trait Decisions: Send + Sync {
    /// Takes the locks of the leads' numbers (waiting for any decision about them under
    /// way) and brings the trackers up to date for them as of `now`.
    fn begin<'a>(
        &'a self,
        leads: &'a [&'a Lead],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Box<dyn DecisionUnit>, StoreError>>;
}

/// Decisions under way; dropped without [`DecisionUnit::commit`], nothing of the rows
/// is kept (files: what was handed to the appenders is written, unawaited).
pub trait DecisionUnit: Send {
    /// Puts a newly deferred lead in the queue; the entry's id (files: a lead and number
    /// already waiting keep their entry and its id).
    fn defer<'a>(&'a mut self, d: Deferral<'a>) -> BoxFuture<'a, Result<String, StoreError>>;
    /// Ends the release of `entry`, claimed by this instance: deferred again (`again`) it
    /// stays under its id, which is returned; decided, it leaves the queue with the
    /// commit. An error if the claim was taken over meanwhile.
    fn finish_release<'a>(
        &'a mut self,
        entry: &'a Entry,
        now: DateTime<Utc>,
        again: Option<Deferral<'a>>,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>>;
    /// The decision's call-journal line (with a block's attempt); the trackers see it now.
    fn record<'a>(&'a mut self, decision: &'a CallEvent) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Queues an accepted call in the outbox.
    fn enqueue<'a>(&'a mut self, call: QueuedCall<'a>) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Makes everything above durable, and lets the numbers go.
    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), StoreError>>;
}
