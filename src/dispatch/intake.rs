//! Intake and decision: a lead (a webhook, a database batch, a released queue entry)
//! decided by the pipeline and made durable ([`super::decide`]), batched when `startup/`
//! asks for it ([`super::batch`]); the deferred queue's releases and the release task
//! ([`super::release`], [`super::rounds`]).

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{batch, decisions, FollowUps, Ledger, Submitted};
use crate::domain::Lead;
use crate::journal::Decision;
use crate::pipeline::{Evaluation, Pipeline};
use crate::store::StoreResult;

/// What intake decides with, besides the ledger.
pub(super) struct Deciding {
    pub pipeline: Pipeline,
    pub scheduler: Arc<crate::schedule::Scheduler>,
    pub decisions: Arc<dyn decisions::Decisions>,
    pub batched: bool,
    /// Builds the call body of an accepted lead.
    pub provider: Arc<dyn crate::provider::CallProvider>,
    /// Who runs the release task.
    pub leases: Arc<dyn crate::store::lease::Leases>,
    pub release_passes: prometheus_client::metrics::counter::Counter,
}

/// Intake and decision (see the module docs).
pub struct Intake {
    pub(super) ledger: Arc<Ledger>,
    /// What a block sets off, and the redials a new webhook replaces.
    pub(super) follow_ups: Arc<FollowUps>,
    pub(super) pipeline: Pipeline,
    pub scheduler: Arc<crate::schedule::Scheduler>,
    /// Where decisions are made durable, under their numbers' locks.
    pub(super) decisions: Arc<dyn decisions::Decisions>,
    /// Webhooks decided in batches ([`batch`]), when startup asks for it.
    pub(super) batcher: Option<batch::Batcher>,
    pub(super) provider: Arc<dyn crate::provider::CallProvider>,
    pub(super) leases: Arc<dyn crate::store::lease::Leases>,
    /// Counts the release task's passes (`callgate_release_passes_total`).
    pub(super) release_passes: prometheus_client::metrics::counter::Counter,
    next_from: AtomicUsize,
}

impl Intake {
    pub(super) fn new(ledger: Arc<Ledger>, follow_ups: Arc<FollowUps>, d: Deciding) -> Self {
        Self {
            ledger,
            follow_ups,
            pipeline: d.pipeline,
            scheduler: d.scheduler,
            decisions: d.decisions,
            batcher: d.batched.then(batch::Batcher::default),
            provider: d.provider,
            leases: d.leases,
            release_passes: d.release_passes,
            next_from: AtomicUsize::new(0),
        }
    }

    /// The caller id for the next call: `BLAND_FROM` in turn, or none.
    pub(super) fn pick_from(&self) -> Option<String> {
        let pool = &self.ledger.settings.bland.from;
        if pool.is_empty() {
            return None;
        }
        let i = self.next_from.fetch_add(1, Ordering::Relaxed) % pool.len();
        Some(pool[i].clone())
    }

    /// The pipeline's answer with no side effects (the admin `check`).
    pub fn check(&self, lead: &Lead, at: Option<DateTime<Utc>>) -> Evaluation {
        self.pipeline
            .evaluate(lead, at.unwrap_or_else(|| self.ledger.clock.now()))
    }

    /// Journals a webhook refused as invalid.
    pub async fn reject(&self, request_id: &str, errors: &[String]) -> StoreResult<()> {
        self.ledger.reject(request_id, errors).await
    }

    /// Decides about a lead and makes the decision durable: the decision (with its trace)
    /// in the call journal, a block in the attempts journal, an accepted call in the outbox,
    /// a deferred lead in the deferred queue. Returns once all of it is on disk; an
    /// accepted call is then queued for sending.
    pub async fn submit(&self, lead: &Lead, request_id: &str) -> StoreResult<Submitted> {
        let decided = self.submit_decision(lead, request_id).await?;
        self.follow_ups
            .write_back_block(lead, request_id, &decided)
            .await;
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
        if self.follow_ups.texts.enabled() {
            let now = self.ledger.clock.now();
            if let Err(e) = self
                .follow_ups
                .texts
                .cancel(lead.phone.as_str(), "a new lead came for the number", now)
                .await
            {
                tracing::error!(request_id, error = %e, "could not cancel the number's pending texts");
            }
        }
        if self.ledger.settings.redial.enabled && replaces {
            if let Err(e) = self
                .follow_ups
                .cancel_redials(&lead.lead_id, Some(lead.phone.as_str()))
                .await
            {
                tracing::error!(request_id, error = %e, "could not remove the lead's pending redial");
            }
        }
        Ok(decided)
    }

    async fn submit_decision(&self, lead: &Lead, request_id: &str) -> StoreResult<Submitted> {
        let now = self.ledger.clock.now();
        if let Some(batcher) = &self.batcher {
            let (reply, answer) = tokio::sync::oneshot::channel();
            let job = batch::Job {
                lead: lead.clone(),
                request_id: request_id.to_string(),
                now,
                reply,
            };
            if batcher.tx.send(job).is_ok() {
                if let Ok(result) = answer.await {
                    return result;
                }
            }
            return Err(io::Error::other("the decision workers stopped").into());
        }
        self.decide(lead, request_id, now, None).await
    }
}
