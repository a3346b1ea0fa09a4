//! The release task. Every [`TICK`] the instance holding the [`LEASE`] (another takes over
//! [`LEASE_TTL`] after it stops; the file backend's one process always holds it): turns
//! calls whose claim ran out into `unconfirmed` (settled as sent when the call journal has
//! their `sent` line), re-runs releases whose claim ran out, expires entries older than
//! `max_defer_hours`, and releases due entries in rounds ([`super::release`]). With several
//! instances each step takes its rows with a statement only one instance can win
//! (`UPDATE … RETURNING`, `FOR UPDATE SKIP LOCKED`, a delete), so every row is handled by
//! exactly one instance and any instance takes over from one that stopped. Every instance
//! then re-reads the queues' sizes for `/health`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::sends::CLAIM_MARGIN_SECS;
use super::Intake;
use crate::journal::{CallEvent, DispatchStatus};
use crate::store::StoreResult;

/// How often due entries are looked for.
pub const TICK: Duration = Duration::from_millis(250);

/// The lease whose holder runs the sweeps and releases.
pub const LEASE: &str = "release";

/// How long the lease lasts without renewal (renewed every tick): another instance takes
/// the work over this long after the holder stops.
pub const LEASE_TTL: chrono::Duration = chrono::Duration::seconds(30);

/// Runs until `shutdown` resolves.
pub async fn run(gw: Arc<Intake>, shutdown: impl std::future::Future<Output = ()>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {}
        }
        let now = gw.ledger.clock.now();
        gw.ledger.tracker.prune(now);
        match gw.leases.take(LEASE, now, LEASE_TTL).await {
            Ok(true) => {
                if let Err(e) = gw.sweep_claims(now).await {
                    tracing::error!(error = %e, "could not settle calls whose claim ran out");
                }
                if let Err(e) = gw.expire_deferred().await {
                    tracing::error!(error = %e, "could not expire deferred leads");
                }
                gw.release_due().await;
                gw.release_passes.inc();
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "cannot take the release lease"),
        }
        let outbox = gw.ledger.outbox_store.refresh().await;
        if let Err(e) = outbox.and(gw.ledger.deferred_store.refresh(now).await) {
            tracing::warn!(error = %e, "could not read the shared queues' sizes");
        }
    }
    // A clean stop hands the work over at once.
    let _ = gw.leases.give_up(LEASE).await;
}

impl Intake {
    /// Makes every deferred entry due now; returns how many.
    pub async fn hurry_deferred(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        self.ledger.deferred_store.hurry_all(now).await
    }

    /// How long a claim on a call or a release lasts before another instance may take it.
    pub(super) fn lease(&self) -> chrono::Duration {
        chrono::Duration::seconds(
            self.ledger.settings.bland.timeout_secs as i64 + CLAIM_MARGIN_SECS,
        )
    }

    /// Calls whose instance stopped mid-send become `unconfirmed` (journaled), or `sent`
    /// when the call journal already has their call id; releases whose instance stopped
    /// mid-decision are decided again by this instance (their decision never committed).
    /// Nothing to do with files: a restart settles both (`Outbox::open`,
    /// [`Intake::settle_in_doubt`]).
    async fn sweep_claims(&self, now: DateTime<Utc>) -> StoreResult<()> {
        for request_id in self.ledger.outbox_store.expire_claims(now).await? {
            let entry = self.ledger.outbox_entry(&request_id).await?;
            if let Some(call_id) = self.ledger.journaled_call_id(&request_id).await? {
                if let Some(entry) = &entry {
                    self.ledger
                        .outbox_settle(&entry.request_id, true, Some(call_id))
                        .await?;
                }
                continue;
            }
            tracing::error!(request_id, "the instance sending this call stopped mid-send: unconfirmed, an admin must resolve it");
            let event = CallEvent::Dispatch {
                timestamp: now,
                request_id: request_id.clone(),
                status: DispatchStatus::Unconfirmed,
                lead_id: entry.as_ref().map(|e| e.lead_id.clone()),
                phone: entry.as_ref().map(|e| e.phone.clone()),
                call_id: None,
                error: Some("the instance sending this call stopped; Bland may have it".into()),
                caller_id: None,
            };
            self.ledger.record_dispatch(event).wait().await?;
        }
        for e in self
            .ledger
            .deferred_store
            .adopt_stale(now, self.lease())
            .await?
        {
            tracing::warn!(queue_id = %e.id, "deciding again a release whose instance stopped");
            if let Err(err) = self.release(&e, now).await {
                tracing::error!(queue_id = %e.id, error = %err, "could not release a deferred lead; it stays queued");
            }
        }
        Ok(())
    }
}
