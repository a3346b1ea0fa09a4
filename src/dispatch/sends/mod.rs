//! The sender's storage role: [`Sends`] hands the dispatcher the next call to send, its
//! try recorded durably before the request leaves (a crash from there on makes the entry
//! unconfirmed, never resent on its own), within `BLAND_MAX_CONCURRENT` and
//! `BLAND_MAX_CALLS_PER_SECOND`. The dispatcher tells it what happened ([`Wake`]) and
//! asks for calls until there is nothing to send, no room, or a wait.
//!
//! Two implementations, picked in `startup/`: [`FileSends`] (this process is the only
//! sender: the ids it was told, a slot per call in flight, the spacing kept here, and an
//! `attempt` record in the outbox) and [`DbSends`] (every instance claims from the shared
//! outbox, [`crate::db::Db::claim_paced`]: each call is sent by exactly one instance, the
//! limits hold for the whole deployment, and a claim carries a lease of the Bland timeout
//! plus [`CLAIM_MARGIN_SECS`]; a retry this instance scheduled is claimed by id when its
//! timer fires, the only claim that does not wait for the call's next try time).

use futures_util::future::BoxFuture;
use tokio::sync::OwnedSemaphorePermit;

use super::outbox::NextAttempt;
use super::Wake;
use crate::store::StoreError;

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
    /// The next call to send at `now`, its try durably recorded.
    fn claim(&self, now: chrono::DateTime<chrono::Utc>)
        -> BoxFuture<'_, Result<Claim, StoreError>>;
}
