//! The release task in database mode. Every [`super::release::TICK`] the instance holding
//! the [`LEASE`] (another takes over [`LEASE_TTL`] after it stops):
//! turns calls whose claim ran out into `unconfirmed` (settled as sent when the call
//! journal has their `sent` line), re-runs releases whose claim ran out, expires entries
//! older than `max_defer_hours`, and releases due entries in rounds. Each step takes its
//! rows with a statement only one instance can win (`UPDATE … RETURNING`, `FOR UPDATE SKIP
//! LOCKED`, a delete), so every row is handled by exactly one instance and any instance
//! takes over from one that stopped.

use std::io;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use super::release::{Released, TICK};
use super::shared::{db_io, entry_of, Shared, CLAIM_MARGIN_SECS};
use super::{Gateway, Submitted};
use crate::domain::Lead;
use crate::journal::{CallEvent, DispatchStatus};
use crate::schedule::queue::{Entry, Removal};

/// The lease whose holder runs the sweeps and releases.
pub const LEASE: &str = "release";

/// How long the lease lasts without renewal (renewed every tick): another instance takes
/// the work over this long after the holder stops.
pub const LEASE_TTL: chrono::Duration = chrono::Duration::seconds(30);

/// Runs until `shutdown` resolves.
pub async fn run(
    gw: Arc<Gateway>,
    sh: Arc<Shared>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {}
        }
        let now = gw.clock.now();
        gw.tracker.prune(now);
        let lease = sh.db.try_lease(LEASE, &sh.holder, now, LEASE_TTL).await;
        match lease {
            Ok(true) => {
                if let Err(e) = gw.sweep_claims(&sh, now).await {
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
        let outbox = gw
            .outbox_store
            .refresh()
            .await
            .map_err(std::io::Error::from);
        if let Err(e) = outbox.and(sh.refresh_counts(now).await.map_err(db_io)) {
            tracing::warn!(error = %e, "could not read the shared queues' sizes");
        }
    }
    // A clean stop hands the work over at once.
    let _ = sh.db.release_lease(LEASE, &sh.holder).await;
}

/// A page of the deferred queue and the queue's summary: ((matching, page), (rows, due,
/// oldest first deferral)).
type Page = ((usize, Vec<Entry>), (usize, usize, Option<DateTime<Utc>>));

impl Gateway {
    /// Deferred entries matching the filters, by release time, with the queue's summary
    /// (every instance's entries, in database mode).
    pub async fn deferred_page(
        &self,
        lead_id: Option<&str>,
        phone: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> io::Result<Page> {
        let now = self.clock.now();
        let Some(sh) = &self.shared else {
            let page = self.deferred.list(lead_id, phone, offset, limit);
            return Ok((page, self.deferred.summary(now)));
        };
        let (matching, rows) = sh
            .db
            .list_deferred(lead_id, phone, offset as i64, limit as i64)
            .await
            .map_err(db_io)?;
        let (total, due, oldest) = sh.db.deferred_summary(now).await.map_err(db_io)?;
        let n = |v: i64| usize::try_from(v).unwrap_or(0);
        Ok((
            (n(matching), rows.into_iter().map(entry_of).collect()),
            (n(total), n(due), oldest),
        ))
    }

    /// Makes every deferred entry due now; returns how many.
    pub async fn hurry_deferred(&self, now: DateTime<Utc>) -> io::Result<usize> {
        let Some(sh) = &self.shared else {
            let (n, pending) = self.deferred.hurry(None, now);
            pending.wait().await?;
            return Ok(n);
        };
        let n = sh.db.hurry_deferred(None, now).await.map_err(db_io)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn lease(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.settings.bland.timeout_secs as i64 + CLAIM_MARGIN_SECS)
    }

    /// Calls whose instance stopped mid-send become `unconfirmed` (journaled), or `sent`
    /// when the call journal already has their call id; releases whose instance stopped
    /// mid-decision are decided again by this instance (their decision never committed).
    async fn sweep_claims(&self, sh: &Shared, now: DateTime<Utc>) -> io::Result<()> {
        for request_id in sh.db.expire_claims(now).await.map_err(db_io)? {
            let entry = self.outbox_entry(&request_id).await?;
            if let Some(call_id) = sh.db.journaled_call_id(&request_id).await.map_err(db_io)? {
                if let Some(entry) = &entry {
                    self.outbox_settle(&entry.request_id, true, Some(call_id))
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
            };
            self.record_dispatch(event).wait().await?;
        }
        for row in sh.db.stale_releases(now).await.map_err(db_io)? {
            if sh
                .db
                .adopt_release(&row.id, &sh.holder, now, self.lease())
                .await
                .map_err(db_io)?
            {
                tracing::warn!(queue_id = %row.id, "deciding again a release whose instance stopped");
                let e = entry_of(row);
                if let Err(err) = self.release_claimed(sh, &e, now).await {
                    tracing::error!(queue_id = %e.id, error = %err, "could not release a deferred lead; it stays queued");
                }
            }
        }
        Ok(())
    }

    /// [`Gateway::expire_deferred`] in database mode.
    pub(super) async fn expire_deferred_shared(
        &self,
        sh: &Shared,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> io::Result<usize> {
        let mut expired = 0;
        loop {
            let batch = sh.db.expired_deferred(cutoff, 1000).await.map_err(db_io)?;
            if batch.is_empty() {
                return Ok(expired);
            }
            for row in batch {
                let e = entry_of(row);
                if self.dequeue_shared(sh, &e, Removal::Expired, now).await? {
                    tracing::info!(queue_id = %e.id, lead_id = %e.lead_id, "deferred lead expired");
                    expired += 1;
                }
            }
        }
    }

    /// Removes a row and journals its `dequeued` event in one commit.
    pub(super) async fn dequeue_shared(
        &self,
        sh: &Shared,
        e: &Entry,
        why: Removal,
        now: DateTime<Utc>,
    ) -> io::Result<bool> {
        let event = CallEvent::Dequeued {
            timestamp: now,
            request_id: e.request_id.clone(),
            queue_id: e.id.clone(),
            lead_id: Some(e.lead_id.clone()),
            phone: Some(e.phone.clone()),
            why,
            first_deferred_at: e.first_deferred_at,
        };
        let line = crate::journal::rows::call_line(&event, self.journals.date_of(now));
        sh.db.dequeue_deferred(&e.id, &line).await.map_err(db_io)
    }

    /// [`Gateway::delete_deferred`] in database mode.
    pub(super) async fn delete_deferred_shared(
        &self,
        sh: &Shared,
        id: &str,
    ) -> io::Result<Option<Result<Entry, Entry>>> {
        let Some(row) = sh.db.deferred_row(id).await.map_err(db_io)? else {
            return Ok(None);
        };
        let e = entry_of(row);
        if e.releasing.is_some()
            || !self
                .dequeue_shared(sh, &e, Removal::Deleted, self.clock.now())
                .await?
        {
            return Ok(Some(Err(e)));
        }
        tracing::info!(queue_id = %e.id, lead_id = %e.lead_id, "deferred lead deleted by an admin");
        Ok(Some(Ok(e)))
    }

    /// [`Gateway::release_one_now`] in database mode.
    pub(super) async fn release_one_shared(&self, sh: &Shared, id: &str) -> io::Result<Released> {
        let now = self.clock.now();
        match sh
            .db
            .claim_release(id, &sh.holder, now, self.lease())
            .await
            .map_err(db_io)?
        {
            Some(row) => match self.release_claimed(sh, &entry_of(row), now).await? {
                Some(s) => Ok(Released::One(Box::new(s))),
                None => Ok(Released::Missing),
            },
            None if sh.db.deferred_row(id).await.map_err(db_io)?.is_some() => Ok(Released::Busy),
            None => Ok(Released::Missing),
        }
    }

    /// [`Gateway::release_due`] in database mode: rounds of claimed rows.
    pub(super) async fn release_due_shared(&self, sh: &Shared) {
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
            let claimed = sh
                .db
                .claim_releases(&sh.holder, now, room as i64, self.lease())
                .await;
            let rows = match claimed {
                Ok(rows) if rows.is_empty() => return,
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim deferred leads; releases wait");
                    return;
                }
            };
            let entries: Vec<Entry> = rows.into_iter().map(entry_of).collect();
            let results = join_all(entries.iter().map(|e| self.release_claimed(sh, e, now))).await;
            let mut failed = false;
            for (e, r) in entries.iter().zip(results) {
                if let Err(err) = r {
                    tracing::error!(queue_id = %e.id, error = %err, "could not release a deferred lead; it stays queued");
                    if let Err(e2) = sh.db.unclaim_release(&e.id, &sh.holder).await {
                        tracing::warn!(queue_id = %e.id, error = %e2, "could not give a release back; its claim runs out instead");
                    }
                    failed = true;
                }
            }
            if failed {
                return;
            }
            tokio::task::yield_now().await;
        }
    }

    /// Decides a row this instance claimed, under the request id the claim gave it.
    async fn release_claimed(
        &self,
        sh: &Shared,
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
                let decided = self.decide_shared(sh, &lead, &rid, now, Some(e)).await?;
                self.write_back_block(&lead, &rid, &decided).await;
                Ok(Some(decided))
            }
            Err(errors) => {
                tracing::error!(queue_id = %e.id, errors = ?errors, "a deferred lead no longer parses; dropped");
                self.reject(&rid, &errors).await?;
                sh.db
                    .finish_release(&e.id, &sh.holder, None)
                    .await
                    .map_err(db_io)?;
                Ok(None)
            }
        }
    }
}
