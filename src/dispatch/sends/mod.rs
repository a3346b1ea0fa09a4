//! The sender's storage role: [`Sends`] hands the dispatcher the next call to send, its
//! try recorded durably before the request leaves (a crash from there on makes the entry
//! unconfirmed, never resent on its own), within `BLAND_MAX_CONCURRENT` and
//! `BLAND_MAX_CALLS_PER_SECOND`, and the hourly and daily budgets ([`budget`]). The
//! dispatcher tells it what happened ([`Wake`]) and asks for calls until there is nothing
//! to send, no room, or a wait. A 429 from the provider pauses every send
//! ([`Sends::pause`]): in this process on files, in the shared `dispatch_pace` row for
//! every instance on the database.
//!
//! Two implementations, picked in `startup/`: [`FileSends`] (this process is the only
//! sender: the ids it was told, a slot per call in flight, the spacing kept here, and an
//! `attempt` record in the outbox) and [`DbSends`] (every instance claims from the shared
//! outbox, [`crate::db::Db::claim_paced`]: each call is sent by exactly one instance, the
//! limits hold for the whole deployment, and a claim carries a lease of the Bland timeout
//! plus [`CLAIM_MARGIN_SECS`]; a retry this instance scheduled is claimed by id when its
//! timer fires, the only claim that does not wait for the call's next try time).

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use tokio::sync::OwnedSemaphorePermit;

use super::outbox::NextAttempt;
use super::Wake;
use crate::store::StoreError;

pub mod budget;
mod file;
mod rows;
#[cfg(test)]
mod tests;

pub use file::FileSends;
pub use rows::DbSends;

/// How long a claim on a call or a release lasts past the Bland timeout before another
/// instance may treat its holder as gone.
pub const CLAIM_MARGIN_SECS: i64 = 30;

/// A call to send now, its try recorded.
pub struct Claimed {
    pub request_id: String,
    pub next: NextAttempt,
    /// The call's place among those in flight (files), given back when it is dropped.
    pub slot: Option<OwnedSemaphorePermit>,
}

/// What asking for the next call found.
pub enum Claim {
    Claimed(Box<Claimed>),
    /// Nothing to send now.
    Nothing,
    /// `BLAND_MAX_CONCURRENT` calls are in flight.
    Full,
    /// The next send may start after this long.
    Wait(std::time::Duration),
}

/// Where the dispatcher takes its calls from.
pub trait Sends: Send + Sync {
    /// What the dispatcher was told: a call queued, or a retry's backoff ran out.
    fn told(&self, wake: Wake);
    /// The next call to send at `now`, its try durably recorded; [`Claim::Wait`] while
    /// sending is paused.
    fn claim(&self, now: DateTime<Utc>) -> BoxFuture<'_, Result<Claim, StoreError>>;
    /// Pauses every send until `until` (the provider is limiting the account): on the
    /// database, for every instance. A later pause already set is kept.
    fn pause<'a>(
        &'a self,
        until: DateTime<Utc>,
        why: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// The pause in force at `now`, as this instance last saw it (for `/health`).
    fn paused(&self, now: DateTime<Utc>) -> Option<Pause>;
    /// The calling budgets' use (`BLAND_MAX_CALLS_PER_HOUR`, `_PER_DAY`), when set, as
    /// this instance last counted it (for `/health`).
    fn capacity(&self, now: DateTime<Utc>) -> Option<budget::Use>;
}

/// Sending paused until `until`, and why (the provider's answer).
#[derive(Debug, Clone, PartialEq)]
pub struct Pause {
    pub until: DateTime<Utc>,
    pub why: String,
}

/// The latest pause known: the file backend's record of it, the database's cache.
#[derive(Default)]
pub(crate) struct PauseCell(Mutex<Option<Pause>>);

impl PauseCell {
    /// Keeps `p` unless a pause that ends later is known.
    pub(crate) fn set(&self, p: Pause) {
        let mut cell = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if cell.as_ref().is_none_or(|known| known.until < p.until) {
            *cell = Some(p);
        }
    }

    /// The pause still in force at `now`.
    pub(crate) fn active(&self, now: DateTime<Utc>) -> Option<Pause> {
        let cell = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        cell.clone().filter(|p| p.until > now)
    }
}

/// How long a claim at `now` waits for `p` to end.
pub(crate) fn wait_for(p: &Pause, now: DateTime<Utc>) -> Claim {
    Claim::Wait((p.until - now).to_std().unwrap_or_default())
}
