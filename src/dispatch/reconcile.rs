//! Unconfirmed calls looked up at Bland. A call whose send was cut short (a timeout, a
//! crash) is `unconfirmed`: Bland may have it. Every `reconcile_every_secs` each one is
//! looked for in Bland's call list for its number (`GET /v1/calls?to_number=`), matched on
//! our `metadata.request_id` (a listed call without metadata is fetched whole): found → it
//! is settled as `sent` with Bland's `call_id`, so its completion is matched; not listed
//! `reconcile_after_minutes` after the send → certainly absent: resent under the same
//! request id if `auto_resend_unconfirmed` is on, else left for an admin as before. Each
//! step is journaled (`reconciled` events). A sent call whose completion webhook never
//! came is fetched `max_duration` + 5 minutes after Bland took it, and a finished one's
//! outcome applied as if the webhook had arrived (`source: poll`). In database mode one
//! instance does it (a lease).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::outbox::{Entry, State};
use super::{FollowUps, Intake, Ledger};
use crate::journal::CallEvent;
use crate::store::StoreResult;

const LEASE: &str = "reconcile";

/// What one pass did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Reconciled {
    pub looked_up: usize,
    pub found: usize,
    pub absent: usize,
    pub resent: usize,
    pub waiting: usize,
    /// Sent calls whose completion never came, fetched from Bland.
    pub polled: usize,
    /// Of those, finished at Bland: their outcome applied (`source: poll`).
    pub completed_by_poll: usize,
    pub errors: usize,
}

/// A sent call is fetched once this long past Bland's `max_duration` without a completion.
pub const SILENT_MARGIN_MINUTES: i64 = 5;
/// Sent calls older than this are not polled any more.
pub const SILENT_WINDOW_HOURS: i64 = 24;

/// What passes share: the absent calls already journaled as such (journaled once, not
/// every pass), and the pass itself, one at a time on an instance — the background task
/// and the admin route never look the same call up together, so neither resends it twice
/// (across instances a resend is a compare-and-set on the row's state).
#[derive(Default)]
pub struct Reported {
    absent: Mutex<HashSet<String>>,
    pass: tokio::sync::Mutex<()>,
}

/// Reconciliation (see the module docs) and an admin's resolution of a call
/// ([`super::resolve`]).
pub struct Reconciler {
    pub(super) ledger: Arc<Ledger>,
    /// A failed call resent by an admin is decided again as a new lead.
    pub(super) intake: Arc<Intake>,
    /// A polled outcome is applied as its webhook would be.
    pub(super) follow_ups: Arc<FollowUps>,
    pub(super) provider: Arc<dyn crate::provider::CallProvider>,
    leases: Arc<dyn crate::store::lease::Leases>,
    reported: Reported,
}

impl Reconciler {
    pub(super) fn new(
        ledger: Arc<Ledger>,
        intake: Arc<Intake>,
        follow_ups: Arc<FollowUps>,
        provider: Arc<dyn crate::provider::CallProvider>,
        leases: Arc<dyn crate::store::lease::Leases>,
    ) -> Self {
        Self {
            ledger,
            intake,
            follow_ups,
            provider,
            leases,
            reported: Reported::default(),
        }
    }

    /// One pass over every unconfirmed call (the admin route runs one at once).
    pub async fn reconcile(&self) -> StoreResult<Reconciled> {
        let mut done = Reconciled::default();
        if !self.provider.live() {
            return Ok(done);
        }
        let _one_pass = self.reported.pass.lock().await;
        let entries: Vec<Entry> = self
            .ledger
            .outbox_entries()
            .await?
            .into_iter()
            .filter(|e| e.state == State::Unconfirmed)
            .collect();
        let s = &self.ledger.settings.bland;
        for e in entries {
            done.looked_up += 1;
            let found = match self.find_at_provider(&e).await {
                Ok(found) => found,
                Err(err) => {
                    tracing::warn!(request_id = %e.request_id, error = %err, "cannot look an unconfirmed call up at Bland");
                    done.errors += 1;
                    continue;
                }
            };
            let now = self.ledger.clock.now();
            if let Some(call_id) = found {
                self.ledger.settle_sent(&e, Some(call_id.clone())).await?;
                self.note(&e.request_id, "found", Some(call_id.clone()))
                    .await?;
                tracing::info!(request_id = %e.request_id, %call_id, "unconfirmed call found at Bland; settled as sent");
                done.found += 1;
                continue;
            }
            let sent_at = e.attempts.last().map_or(e.queued_at, |a| a.at);
            if now - sent_at < TimeDelta::minutes(i64::from(s.reconcile_after_minutes)) {
                done.waiting += 1;
                continue;
            }
            if s.auto_resend_unconfirmed {
                let requeued = self
                    .ledger
                    .outbox_requeue(&e.request_id, e.attempts.len() as u32)
                    .await?;
                if !requeued {
                    // Settled meanwhile (an admin, a completion, another instance).
                    continue;
                }
                self.note(&e.request_id, "resent", None).await?;
                tracing::warn!(request_id = %e.request_id, "unconfirmed call certainly absent at Bland; resent");
                done.resent += 1;
            } else {
                let first = self
                    .reported
                    .absent
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(e.request_id.clone());
                if first {
                    self.note(&e.request_id, "absent", None).await?;
                    tracing::warn!(request_id = %e.request_id, "unconfirmed call certainly absent at Bland; it waits for an admin (resend or cancel)");
                }
                done.absent += 1;
            }
        }
        self.poll_silent(&mut done).await?;
        Ok(done)
    }

    /// Sent calls with no completion `max_duration` + [`SILENT_MARGIN_MINUTES`] after
    /// Bland took them: fetched (`GET /v1/calls/{id}`), and a finished one's outcome is
    /// applied as if its webhook had come (the line, the trackers, the Convoso update
    /// move), journaled with `source: poll`.
    async fn poll_silent(&self, done: &mut Reconciled) -> StoreResult<()> {
        let now = self.ledger.clock.now();
        let minutes = i64::from(self.ledger.settings.bland.max_duration) + SILENT_MARGIN_MINUTES;
        let until = now - TimeDelta::minutes(minutes);
        let from = now - TimeDelta::hours(SILENT_WINDOW_HOURS);
        let silent = self.ledger.placed.silent(from, until).await?;
        for call_id in silent {
            done.polled += 1;
            let completion = match self.provider.call(&call_id).await {
                Ok(Some(details)) => match details.completion {
                    Some(c) => c,
                    None => continue,
                },
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(%call_id, error = %e, "cannot fetch a silent call from Bland");
                    done.errors += 1;
                    continue;
                }
            };
            let applied = {
                let mut c = completion;
                c.polled = true;
                self.follow_ups.complete_parsed(c).await
            };
            match applied {
                Ok(_) => {
                    tracing::warn!(%call_id, "no completion webhook came; the outcome was fetched from Bland");
                    done.completed_by_poll += 1;
                }
                Err(e) => {
                    tracing::warn!(%call_id, error = %e, "a polled outcome could not be applied");
                    done.errors += 1;
                }
            }
        }
        Ok(())
    }

    /// The provider's call id for entry `e`, if the provider has it: its call list for
    /// the number, matched on our request id (a listed call without it is fetched whole).
    async fn find_at_provider(
        &self,
        e: &Entry,
    ) -> Result<Option<String>, crate::provider::ProviderError> {
        let listed = self.provider.calls_to(&e.phone).await?;
        for call in listed {
            let rid = match call.request_id {
                Some(r) => Some(r),
                None => self
                    .provider
                    .call(&call.call_id)
                    .await?
                    .and_then(|d| d.request_id),
            };
            if rid.as_deref() == Some(e.request_id.as_str()) {
                return Ok(Some(call.call_id));
            }
        }
        Ok(None)
    }

    async fn note(
        &self,
        request_id: &str,
        result: &str,
        call_id: Option<String>,
    ) -> StoreResult<()> {
        self.ledger
            .journals
            .append_call(&CallEvent::Reconciled {
                timestamp: self.ledger.clock.now(),
                request_id: request_id.to_string(),
                result: result.to_string(),
                call_id,
            })
            .wait()
            .await
    }
}

/// Reconciles every `reconcile_every_secs` until `shutdown` (in database mode, while this
/// instance holds the `reconcile` lease).
pub async fn run(gw: Arc<Reconciler>, shutdown: impl std::future::Future<Output = ()>) {
    if !gw.provider.live() {
        return;
    }
    let every =
        std::time::Duration::from_secs(gw.ledger.settings.bland.reconcile_every_secs.max(1));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(every) => {}
        }
        let now: DateTime<Utc> = gw.ledger.clock.now();
        let ttl = TimeDelta::seconds(3 * every.as_secs() as i64 + 30);
        match gw.leases.take(LEASE, now, ttl).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the reconcile lease");
                continue;
            }
        }
        if let Err(e) = gw.reconcile().await {
            tracing::error!(error = %e, "reconciling unconfirmed calls failed");
        }
    }
}
