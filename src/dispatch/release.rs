//! Releasing deferred leads, over the gateway's [`super::deferred::DeferredStore`]: the
//! release task ([`super::rounds`]) expires entries older than `max_defer_hours`
//! (journaled as `dequeued`, `why: expired`) and releases the entries whose time has come,
//! each through the whole pipeline again (`decision` with `release: true`). Releases go in
//! rounds of at most `SCHEDULER_RELEASE_BATCH`, and a round starts only while fewer than
//! that many accepted calls wait in the outbox: a 09:00 backlog is decided at the pace
//! Bland takes calls, so a call is never accepted hours before it can be sent, and intake
//! keeps its share of the journal.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use super::deferred::Claim;
use super::{Intake, Submitted};
use crate::domain::Lead;
use crate::journal::Decision;
use crate::schedule::queue::{Entry, Removal};
use crate::store::StoreResult;

pub use super::rounds::{run, TICK};

/// What an admin asked to release.
#[derive(Debug)]
pub enum Released {
    One(Box<Submitted>),
    Busy,
    Missing,
}

impl Intake {
    /// Settles entries whose release a crash cut short (startup, file backend): if the release's call
    /// reached the outbox, or the release was blocked, the entry is done; otherwise it is
    /// released again (same request id), so the lead is neither lost nor dialled twice.
    pub async fn settle_in_doubt(
        &self,
        outbox: &super::outbox::Outbox,
        queue: &crate::schedule::queue::DeferredQueue,
        entries: Vec<Entry>,
    ) -> StoreResult<()> {
        let now = self.ledger.clock.now();
        let today = self.ledger.journals.date_of(now);
        let days: Vec<_> = [today.pred_opt(), Some(today)]
            .into_iter()
            .flatten()
            .collect();
        for e in entries {
            let Some(rid) = e.releasing.clone() else {
                continue;
            };
            let done = outbox.has_seen(&rid)
                || self
                    .ledger
                    .journals
                    .decisions_for(&days, &rid)?
                    .contains(&Decision::Blocked);
            tracing::warn!(queue_id = %e.id, request_id = %rid, done, "settling a release interrupted by a restart");
            if done {
                queue.remove(&e, Removal::Released, now).wait().await?;
            } else {
                queue.retry_later(&e);
            }
        }
        Ok(())
    }

    /// Journals and removes entries older than `max_defer_hours`.
    pub async fn expire_deferred(&self) -> StoreResult<usize> {
        let now = self.ledger.clock.now();
        let cutoff = now - self.scheduler.max_defer();
        let mut expired = 0;
        loop {
            let batch = self.ledger.deferred_store.expired(cutoff, 1000).await?;
            if batch.is_empty() {
                return Ok(expired);
            }
            for e in &batch {
                if self.ledger.dequeue(e, Removal::Expired, now).await? {
                    tracing::info!(queue_id = %e.id, lead_id = %e.lead_id, "deferred lead expired");
                    expired += 1;
                }
            }
        }
    }

    /// Releases one entry now (admin), through the whole pipeline.
    pub async fn release_one_now(&self, id: &str) -> StoreResult<Released> {
        let now = self.ledger.clock.now();
        match self
            .ledger
            .deferred_store
            .claim(id, now, self.lease())
            .await?
        {
            Claim::Claimed(e) => match self.release(&e, now).await? {
                Some(s) => Ok(Released::One(Box::new(s))),
                None => Ok(Released::Missing),
            },
            Claim::Busy => Ok(Released::Busy),
            Claim::Missing => Ok(Released::Missing),
        }
    }

    /// Releases due entries in rounds while the outbox has room.
    pub async fn release_due(&self) {
        let batch = self.ledger.settings.release_batch.max(1);
        loop {
            let backlog = match self.ledger.outbox_backlog().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the outbox backlog; releases wait");
                    return;
                }
            };
            let room = batch.saturating_sub(backlog);
            if room == 0 {
                return;
            }
            let now = self.ledger.clock.now();
            let due = match self
                .ledger
                .deferred_store
                .claim_due(now, room, self.lease())
                .await
            {
                Ok(due) if due.is_empty() => return,
                Ok(due) => due,
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim deferred leads; releases wait");
                    return;
                }
            };
            let results = join_all(due.iter().map(|e| self.release(e, now))).await;
            let mut failed = false;
            for (e, r) in due.iter().zip(results) {
                if let Err(err) = r {
                    tracing::error!(queue_id = %e.id, error = %err, "could not release a deferred lead; it stays queued");
                    if let Err(e2) = self.ledger.deferred_store.give_back(e).await {
                        tracing::warn!(queue_id = %e.id, error = %e2, "could not give a release back; its claim runs out instead");
                    }
                    failed = true;
                }
            }
            if failed {
                return; // try again next tick, not in a tight loop
            }
            tokio::task::yield_now().await;
        }
    }

    /// Decides an entry this instance claimed, under the request id the claim gave it.
    /// `Ok(None)` when its lead no longer parses (dropped).
    pub(super) async fn release(
        &self,
        e: &Entry,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Submitted>> {
        let rid = e
            .releasing
            .clone()
            .unwrap_or_else(|| e.release_request_id());
        let s = &self.ledger.settings;
        match Lead::parse(e.fields(), &s.lead_fields, &s.default_country) {
            Ok(lead) => {
                let decided = self.decide(&lead, &rid, now, Some(e)).await?;
                self.follow_ups
                    .write_back_block(&lead, &rid, &decided)
                    .await;
                Ok(Some(decided))
            }
            Err(errors) => {
                // Only possible if the lead-field settings changed since it was queued.
                tracing::error!(queue_id = %e.id, errors = ?errors, "a deferred lead no longer parses; dropped");
                self.ledger.reject(&rid, &errors).await?;
                self.ledger.deferred_store.drop_release(e, now).await?;
                Ok(None)
            }
        }
    }
}

/// The `scheduler` component of `/health`: queue depth, entries due, the oldest entry,
/// and which calling-window rules are in force.
pub struct SchedulerHealth(pub Arc<Intake>);

impl crate::health::HealthSource for SchedulerHealth {
    fn name(&self) -> &'static str {
        "scheduler"
    }

    fn report(&self) -> crate::health::ComponentReport {
        use crate::health::{ComponentReport, HealthStatus};
        let gw = &self.0;
        let (depth, due, oldest) = gw.ledger.deferred_summary();
        let rules = &gw.scheduler.rules;
        let config = gw.scheduler.config.get();
        ComponentReport::new(HealthStatus::Ok)
            .with("enabled", config.doc.enabled)
            .with("local_window", config.doc.local_window.enabled)
            .with("queue_depth", depth)
            .with("due", due)
            .with(
                "oldest_deferred_at",
                oldest.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            )
            .with("rules_version", rules.version.clone())
            .with("rules_source", rules.source.clone())
            .with("area_codes", rules.area_codes())
    }
}
