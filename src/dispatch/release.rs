//! Releasing deferred leads, over the gateway's [`super::deferred::DeferredStore`]: the
//! release task ([`super::rounds`]) expires entries older than `max_defer_hours`
//! (journaled as `dequeued`, `why: expired`) and releases the entries whose time has come,
//! each through the whole pipeline again (`decision` with `release: true`). Releases go in
//! rounds of at most `SCHEDULER_RELEASE_BATCH`, and a round starts only while fewer than
//! that many accepted calls wait in the outbox: a 09:00 backlog is decided at the pace
//! Bland takes calls, so a call is never accepted hours before it can be sent, and intake
//! keeps its share of the journal.

use std::io;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use super::deferred::Claim;
use super::entries::Tried;
use super::{Gateway, Submitted};
use crate::domain::Lead;
use crate::journal::{CallEvent, Decision, DispatchStatus};
use crate::pipeline::Verdict;
use crate::schedule::queue::{Deferral, Entry, Removal};

pub use super::rounds::{run, TICK};

/// What an admin asked to release.
#[derive(Debug)]
pub enum Released {
    One(Box<Submitted>),
    Busy,
    Missing,
}

impl Gateway {
    /// Settles entries whose release a crash cut short (startup, file backend): if the release's call
    /// reached the outbox, or the release was blocked, the entry is done; otherwise it is
    /// released again (same request id), so the lead is neither lost nor dialled twice.
    pub async fn settle_in_doubt(
        &self,
        outbox: &super::outbox::Outbox,
        queue: &crate::schedule::queue::DeferredQueue,
        entries: Vec<Entry>,
    ) -> io::Result<()> {
        let now = self.clock.now();
        let today = self.journals.date_of(now);
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

    /// Re-runs the `schedule` check just before a send. When the window has closed since
    /// the call was accepted, the call leaves the outbox (`deferred`) and goes back to the
    /// deferred queue (or is blocked if no window opens within the horizon), and the
    /// dispatch is journaled with `status: deferred` or `failed`. `Ok(true)` = send it.
    pub(crate) async fn window_still_open(
        &self,
        request_id: &str,
        body: &serde_json::Value,
        lead_id: &str,
        phone: &str,
        now: DateTime<Utc>,
    ) -> io::Result<bool> {
        let fields = self.provider.lead_fields_of(body).unwrap_or_default();
        let s = &self.settings;
        // The body was built from a parsed lead, so this parses; if not, nothing to re-check.
        let Ok(lead) = Lead::parse(fields, &s.lead_fields, &s.default_country) else {
            return Ok(true);
        };
        let (status, error, queue) = match self.scheduler.decide(&lead, now) {
            Verdict::Allow => return Ok(true),
            Verdict::Defer { until, reason } => {
                let d = Deferral {
                    lead: &lead,
                    request_id,
                    now,
                    release_at: until,
                    stage: "schedule",
                    reason: &reason,
                };
                let id = self.defer_lead(d).await?;
                (DispatchStatus::Deferred, reason, Some(id))
            }
            Verdict::Block { reason, .. } => (DispatchStatus::Failed, reason, None),
        };
        tracing::warn!(request_id, reason = %error, queue_id = queue.as_deref().unwrap_or(""), "the calling window closed before this call was sent; not sent");
        let why = format!("not sent, the calling window closed: {error}");
        let journaled = self.record_dispatch(CallEvent::Dispatch {
            timestamp: now,
            request_id: request_id.to_string(),
            status,
            lead_id: Some(lead_id.to_string()),
            phone: Some(phone.to_string()),
            call_id: None,
            error: Some(why.clone()),
        });
        let tried = match queue {
            Some(queue_id) => Tried::Deferred { queue_id },
            None => Tried::Failed { error: why },
        };
        journaled.wait().await?;
        if !self.finish_try(request_id, now, tried).await {
            return Err(io::Error::other(
                "could not record that the call was not sent",
            ));
        }
        Ok(false)
    }

    /// Puts a lead in the deferred queue outside a decision (a call whose window closed
    /// before it was sent); returns the entry's id.
    async fn defer_lead(&self, d: Deferral<'_>) -> io::Result<String> {
        Ok(self.deferred_store.defer(d).await?)
    }

    /// Journals and removes entries older than `max_defer_hours`.
    pub async fn expire_deferred(&self) -> io::Result<usize> {
        let now = self.clock.now();
        let cutoff = now - self.scheduler.max_defer();
        let mut expired = 0;
        loop {
            let batch = self.deferred_store.expired(cutoff, 1000).await?;
            if batch.is_empty() {
                return Ok(expired);
            }
            for e in &batch {
                if self.dequeue(e, Removal::Expired, now).await? {
                    tracing::info!(queue_id = %e.id, lead_id = %e.lead_id, "deferred lead expired");
                    expired += 1;
                }
            }
        }
    }

    /// Journals an entry leaving the queue without a decision and removes it; false when
    /// it is being released (or gone).
    async fn dequeue(&self, e: &Entry, why: Removal, now: DateTime<Utc>) -> io::Result<bool> {
        let event = CallEvent::Dequeued {
            timestamp: now,
            request_id: e.request_id.clone(),
            queue_id: e.id.clone(),
            lead_id: Some(e.lead_id.clone()),
            phone: Some(e.phone.clone()),
            why,
            first_deferred_at: e.first_deferred_at,
        };
        Ok(self.deferred_store.dequeue(e, &event, why, now).await?)
    }

    /// Deletes an entry (admin). `Ok(None)` when there is no such entry; an entry being
    /// released cannot be deleted.
    pub async fn delete_deferred(&self, id: &str) -> io::Result<Option<Result<Entry, Entry>>> {
        let Some(e) = self.deferred_store.get(id).await? else {
            return Ok(None);
        };
        if e.releasing.is_some() || !self.dequeue(&e, Removal::Deleted, self.clock.now()).await? {
            return Ok(Some(Err(e)));
        }
        tracing::info!(queue_id = %e.id, lead_id = %e.lead_id, "deferred lead deleted by an admin");
        Ok(Some(Ok(e)))
    }

    /// Releases one entry now (admin), through the whole pipeline.
    pub async fn release_one_now(&self, id: &str) -> io::Result<Released> {
        let now = self.clock.now();
        match self.deferred_store.claim(id, now, self.lease()).await? {
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
        let batch = self.settings.release_batch.max(1);
        loop {
            let backlog = match self.outbox_backlog().await {
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
            let now = self.clock.now();
            let due = match self.deferred_store.claim_due(now, room, self.lease()).await {
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
                    if let Err(e2) = self.deferred_store.give_back(e).await {
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
    ) -> io::Result<Option<Submitted>> {
        let rid = e
            .releasing
            .clone()
            .unwrap_or_else(|| e.release_request_id());
        let s = &self.settings;
        match Lead::parse(e.fields(), &s.lead_fields, &s.default_country) {
            Ok(lead) => {
                let decided = self.decide(&lead, &rid, now, Some(e)).await?;
                self.write_back_block(&lead, &rid, &decided).await;
                Ok(Some(decided))
            }
            Err(errors) => {
                // Only possible if the lead-field settings changed since it was queued.
                tracing::error!(queue_id = %e.id, errors = ?errors, "a deferred lead no longer parses; dropped");
                self.reject(&rid, &errors).await?;
                self.deferred_store.drop_release(e, now).await?;
                Ok(None)
            }
        }
    }
}

/// The `scheduler` component of `/health`: queue depth, entries due, the oldest entry,
/// and which calling-window rules are in force.
pub struct SchedulerHealth(pub Arc<Gateway>);

impl crate::health::HealthSource for SchedulerHealth {
    fn name(&self) -> &'static str {
        "scheduler"
    }

    fn report(&self) -> crate::health::ComponentReport {
        use crate::health::{ComponentReport, HealthStatus};
        let gw = &self.0;
        let (depth, due, oldest) = gw.deferred_summary();
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
