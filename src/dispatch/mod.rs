//! The one place that joins the modules: intake (pipeline → journals → outbox), the
//! dispatcher that sends outbox entries to Bland, and Bland's completion webhook.

pub mod batch;
pub mod calls;
pub mod completion;
mod decide;
pub mod decisions;
pub mod deferred;
pub mod entries;
mod follow_up;
mod health;
pub mod outbox;
pub mod reconcile;
pub mod redial;
pub mod release;
pub mod resolve;
pub mod rounds;
pub mod sends;
#[cfg(test)]
mod testing;
mod tries;
pub mod worker;
pub mod writeback;

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::domain::Lead;
use crate::journal::{CallEvent, Decision, DispatchStatus, Journals};
use crate::pipeline::{Evaluation, Pipeline};
pub use follow_up::FollowUpError;
use outbox::OutboxStore;
pub use release::SchedulerHealth;
pub use resolve::ResolveError;

pub struct Gateway {
    pub pipeline: Pipeline,
    pub journals: Arc<Journals>,
    /// The outbox for reading and settling entries (the file outbox, or rows).
    pub outbox_store: Arc<dyn OutboxStore>,
    /// The deferred queue for everything but a decision (the file queue, or rows).
    pub deferred_store: Arc<dyn deferred::DeferredStore>,
    /// Who runs the singleton jobs (release rounds, reconciliation).
    pub leases: Arc<dyn crate::store::lease::Leases>,
    /// The calls placed and their outcomes (the file index, or journal rows).
    pub placed: Arc<dyn calls::PlacedCalls>,
    pub scheduler: Arc<crate::schedule::Scheduler>,
    pub tracker: Arc<crate::tracker::Tracker>,
    /// Who places the calls (Bland); not live = dry run.
    pub provider: Arc<dyn crate::provider::CallProvider>,
    pub clock: SharedClock,
    pub settings: Arc<Settings>,
    /// Where the dispatcher takes its calls from (this process's queue, or claims).
    pub sends: Arc<dyn sends::Sends>,
    /// Flags added by outcomes that say do-not-call.
    pub blocklist: Arc<crate::blocklist::Blocklist>,
    /// Writes back to Convoso (`None`: not wired, as in offline commands).
    pub writeback: Option<Arc<writeback::Writeback>>,
    /// Counts the release task's passes (`callgate_release_passes_total`).
    pub release_passes: prometheus_client::metrics::counter::Counter,
    /// Unconfirmed calls already journaled as absent at Bland.
    reported: reconcile::Reported,
    /// Where decisions are made durable, under their numbers' locks.
    decisions: Arc<dyn decisions::Decisions>,
    /// Webhooks decided in batches ([`batch`]), when startup asks for it.
    batcher: Option<batch::Batcher>,
    queue: mpsc::UnboundedSender<Wake>,
    next_from: AtomicUsize,
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
    /// Builds the gateway; returns it and the receiving end of the dispatch queue.
    pub fn new(p: Parts) -> (Self, mpsc::UnboundedReceiver<Wake>) {
        let (queue, rx) = mpsc::unbounded_channel();
        let gw = Self {
            pipeline: p.pipeline,
            journals: p.journals,
            outbox_store: p.outbox_store,
            deferred_store: p.deferred_store,
            leases: p.leases,
            placed: p.placed,
            scheduler: p.scheduler,
            tracker: p.tracker,
            provider: p.provider,
            clock: p.clock,
            settings: p.settings,
            sends: p.sends,
            blocklist: p.blocklist,
            writeback: p.writeback,
            release_passes: p.release_passes,
            reported: reconcile::Reported::default(),
            decisions: p.decisions,
            batcher: p.batched.then(batch::Batcher::default),
            queue,
            next_from: AtomicUsize::new(0),
        };
        (gw, rx)
    }

    /// Queues ids for sending (entries found open at startup).
    pub fn enqueue(&self, ids: impl IntoIterator<Item = String>) {
        for id in ids {
            self.wake_sender(&id);
        }
    }

    /// Tells the sender a call was queued.
    fn wake_sender(&self, request_id: &str) {
        let _ = self.queue.send(Wake::Queued(request_id.to_string()));
    }

    fn pick_from(&self) -> Option<String> {
        let pool = &self.settings.bland.from;
        if pool.is_empty() {
            return None;
        }
        let i = self.next_from.fetch_add(1, Ordering::Relaxed) % pool.len();
        Some(pool[i].clone())
    }

    /// The pipeline's answer with no side effects (the admin `check`).
    pub fn check(&self, lead: &Lead, at: Option<DateTime<Utc>>) -> Evaluation {
        self.pipeline
            .evaluate(lead, at.unwrap_or_else(|| self.clock.now()))
    }

    /// Decides about a lead and makes the decision durable: the decision (with its trace)
    /// in the call journal, a block in the attempts journal, an accepted call in the outbox,
    /// a deferred lead in the deferred queue. Returns once all of it is on disk; an
    /// accepted call is then queued for sending.
    pub async fn submit(&self, lead: &Lead, request_id: &str) -> io::Result<Submitted> {
        let decided = self.submit_decision(lead, request_id).await?;
        self.write_back_block(lead, request_id, &decided).await;
        // A new webhook replaces the lead's pending redial: deferred, the queue's entry for
        // the lead and number was replaced already; accepted, it is removed (the new call's
        // outcome schedules the next). Blocked, it stays — a Convoso retry blocked as a
        // duplicate, or a cap, says nothing against the redial, whose release re-runs the
        // whole pipeline — unless the blocklist stage blocked it: a flag, list or feed
        // matched what this post carries, which the redial's stored lead may not.
        let replaces = match decided.eval.decision {
            Decision::Accepted => true,
            Decision::Blocked => decided.eval.stage == Some("blocklist"),
            Decision::Deferred => false,
        };
        if self.settings.redial.enabled && replaces {
            if let Err(e) = self
                .cancel_redials(&lead.lead_id, Some(lead.phone.as_str()))
                .await
            {
                tracing::error!(request_id, error = %e, "could not remove the lead's pending redial");
            }
        }
        Ok(decided)
    }

    async fn submit_decision(&self, lead: &Lead, request_id: &str) -> io::Result<Submitted> {
        if let Some(batcher) = &self.batcher {
            let (reply, answer) = tokio::sync::oneshot::channel();
            let job = batch::Job {
                lead: lead.clone(),
                request_id: request_id.to_string(),
                now: self.clock.now(),
                reply,
            };
            if batcher.tx.send(job).is_ok() {
                if let Ok(result) = answer.await {
                    return result;
                }
            }
            return Err(io::Error::other("the decision workers stopped"));
        }
        self.decide(lead, request_id, self.clock.now(), None).await
    }

    /// Journals a dispatch result and feeds it to the tracker (it frees or keeps the line).
    pub(crate) fn record_dispatch(&self, event: CallEvent) -> crate::store::appender::Pending {
        self.tracker.apply(&event);
        if let CallEvent::Dispatch {
            status:
                DispatchStatus::Failed
                | DispatchStatus::Deferred
                | DispatchStatus::DryRun
                | DispatchStatus::Cancelled,
            phone: Some(phone),
            timestamp,
            ..
        } = &event
        {
            self.line_free(phone, *timestamp);
        }
        self.journals.append_call(&event)
    }

    /// A number's line became free: leads deferred by `protection` for it are due now
    /// (re-checked by the release task) instead of at their automatic-release time.
    pub(super) fn line_free(&self, phone: &str, at: DateTime<Utc>) {
        let (store, phone) = (self.deferred_store.clone(), phone.to_string());
        tokio::spawn(async move {
            match store.hurry_phone(&phone, "protection", at).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    phone,
                    count = n,
                    "line free: deferred leads for it are due now"
                ),
                Err(e) => {
                    tracing::warn!(phone, error = %e, "could not make leads waiting for a free line due; they are released at their own time")
                }
            }
        });
    }

    /// Journals a webhook refused as invalid.
    pub async fn reject(&self, request_id: &str, errors: &[String]) -> io::Result<()> {
        self.journals
            .append_call(&CallEvent::Rejected {
                timestamp: self.clock.now(),
                request_id: request_id.into(),
                errors: errors.to_vec(),
            })
            .wait()
            .await
    }
}
