//! The one place that joins the modules. The gateway is four parts with one job each,
//! over the [`Ledger`] they all record into:
//! - [`Intake`] — intake and decision: the pipeline over a unit of work of the decisions'
//!   storage role (webhooks, database batches, releases of the deferred queue, the
//!   release task and its sweeps);
//! - [`Sending`] — the dispatcher: the calls it is told of or claims, the window re-check,
//!   each try with the provider and what came of it;
//! - [`FollowUps`] — completion and follow-up: the completion webhook matched to its call,
//!   what an outcome or a block sets off (a flag, Convoso writes, redials);
//! - [`Reconciler`] — unconfirmed and silent calls looked up at the provider, and an
//!   admin's resolution of a call.
//!
//! The parts depend in one direction (intake → follow-ups, reconciler → intake and
//! follow-ups, every part → ledger); each handler is given the part it calls.

pub mod batch;
pub mod callerid;
pub mod calls;
pub mod completion;
mod decide;
pub mod decisions;
pub mod deferred;
pub mod external;
mod follow_up;
mod health;
mod held;
mod intake;
mod ledger;
pub mod outbox;
pub mod reconcile;
pub mod redial;
pub mod release;
pub mod replies;
pub mod resolve;
pub mod rounds;
pub mod sends;
#[cfg(test)]
mod testing;
pub mod texts;
mod tries;
mod window;
pub mod worker;
pub mod writeback;

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::journal::Journals;
use crate::pipeline::{Evaluation, Pipeline};
pub use follow_up::{FollowUpError, FollowUps};
pub use intake::Intake;
pub use ledger::Ledger;
use outbox::OutboxStore;
pub use reconcile::Reconciler;
pub use release::SchedulerHealth;
pub use resolve::ResolveError;
pub use worker::Sending;

/// The gateway's parts (see the module docs), built once by `startup/`.
pub struct Gateway {
    pub ledger: Arc<Ledger>,
    pub intake: Arc<Intake>,
    pub sending: Arc<Sending>,
    pub follow_ups: Arc<FollowUps>,
    pub reconciler: Arc<Reconciler>,
    /// Sends the follow-up texts (a background task).
    pub texts: Arc<texts::send::Sender>,
}

/// What the sender is told.
#[derive(Debug, Clone, PartialEq)]
pub enum Wake {
    /// A call was queued (accepted, found open at startup, or requeued by an admin).
    Queued(String),
    /// A call's backoff ran out: its next try is due.
    Retry(String),
}

/// A request id of ours (`req_<uuid>`): request ids key leads, outbox entries and
/// releases, so they are never taken from a caller.
pub fn new_request_id() -> String {
    format!("req_{}", uuid::Uuid::new_v4().simple())
}

/// What a gateway is built from.
pub struct Parts {
    pub pipeline: Pipeline,
    pub journals: Arc<Journals>,
    pub outbox_store: Arc<dyn OutboxStore>,
    pub deferred_store: Arc<dyn deferred::DeferredStore>,
    pub leases: Arc<dyn crate::store::lease::Leases>,
    pub placed: Arc<dyn calls::PlacedCalls>,
    pub scheduler: Arc<crate::schedule::Scheduler>,
    pub tracker: Arc<crate::tracker::Tracker>,
    /// Who places the calls (Bland); not live = dry run.
    pub provider: Arc<dyn crate::provider::CallProvider>,
    pub clock: SharedClock,
    pub settings: Arc<Settings>,
    pub sends: Arc<dyn sends::Sends>,
    pub decisions: Arc<dyn decisions::Decisions>,
    /// Decide webhooks in batches ([`batch`]): the database's group commit (the file
    /// backend's appenders commit in groups already).
    pub batched: bool,
    pub blocklist: Arc<crate::blocklist::Blocklist>,
    pub writeback: Option<Arc<writeback::Writeback>>,
    pub release_passes: prometheus_client::metrics::counter::Counter,
    /// The caller-ID pool (off without numbers).
    pub caller_ids: Arc<callerid::CallerIds>,
    /// The follow-up texts (their store and config document).
    pub texts: Arc<texts::Texts>,
    pub text_rounds: prometheus_client::metrics::counter::Counter,
}

/// A decided lead; `queue_id` is set when it was deferred.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub eval: Evaluation,
    pub queue_id: Option<String>,
}

/// What the completion webhook did.
#[derive(Debug, Clone, PartialEq)]
pub enum Completed {
    Recorded { request_id: String },
    Duplicate,
    Unmatched,
}

impl Gateway {
    /// Builds the parts; returns them and the receiving end of the sender's queue.
    pub fn new(p: Parts) -> (Self, tokio::sync::mpsc::UnboundedReceiver<Wake>) {
        let stores = (
            p.journals,
            p.tracker,
            p.outbox_store,
            p.deferred_store,
            p.placed,
        );
        let (ledger, rx) = Ledger::new(stores, p.clock, p.settings);
        let ledger = Arc::new(ledger);
        let texts = p.texts;
        let text_sender = Arc::new(texts::send::Sender {
            texts: texts.clone(),
            scheduler: p.scheduler.clone(),
            blocklist: p.pipeline.check("blocklist"),
            provider: p.provider.clone(),
            caller_ids: p.caller_ids.clone(),
            clock: ledger.clock.clone(),
            rounds: p.text_rounds,
        });
        let follow_ups = Arc::new(FollowUps {
            texts,
            ledger: ledger.clone(),
            provider: p.provider.clone(),
            blocklist: p.blocklist,
            writeback: p.writeback,
            caller_ids: p.caller_ids.clone(),
        });
        let intake = Arc::new(Intake::new(
            ledger.clone(),
            follow_ups.clone(),
            intake::Deciding {
                pipeline: p.pipeline,
                scheduler: p.scheduler.clone(),
                decisions: p.decisions,
                batched: p.batched,
                provider: p.provider.clone(),
                leases: p.leases.clone(),
                release_passes: p.release_passes,
            },
        ));
        let sending = Arc::new(Sending {
            ledger: ledger.clone(),
            sends: p.sends,
            provider: p.provider.clone(),
            scheduler: p.scheduler,
            caller_ids: p.caller_ids,
            leases: p.leases.clone(),
            held: Default::default(),
        });
        let reconciler = Arc::new(Reconciler::new(
            ledger.clone(),
            intake.clone(),
            follow_ups.clone(),
            p.provider,
            p.leases,
        ));
        let gw = Self {
            ledger,
            intake,
            sending,
            follow_ups,
            reconciler,
            texts: text_sender,
        };
        (gw, rx)
    }
}
