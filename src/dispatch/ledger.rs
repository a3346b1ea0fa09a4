//! The ledger: what every part of the gateway records into and reads back — the call
//! journal (and the trackers it feeds), the outbox, the deferred queue, the calls placed —
//! and the sender's doorbell, rung when a call is queued. Each part ([`super::Intake`],
//! [`super::Sending`], [`super::FollowUps`], [`super::Reconciler`]) holds it; none of them
//! holds another's state.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::deferred::Page;
use super::outbox::{Entry, OutboxStore, Tried};
use super::{calls, deferred, Wake};
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::journal::{CallEvent, DispatchStatus, Journals};
use crate::schedule::queue::{Deferral, Entry as Queued, Removal};
use crate::store::StoreResult;

/// The journals, the tracker, the outbox, the deferred queue and the calls placed.
pub(super) type Stores = (
    Arc<Journals>,
    Arc<crate::tracker::Tracker>,
    Arc<dyn OutboxStore>,
    Arc<dyn deferred::DeferredStore>,
    Arc<dyn calls::PlacedCalls>,
);

/// The record of calls every part shares.
pub struct Ledger {
    pub journals: Arc<Journals>,
    pub tracker: Arc<crate::tracker::Tracker>,
    /// The outbox for reading and settling entries (the file outbox, or rows).
    pub outbox_store: Arc<dyn OutboxStore>,
    /// The deferred queue for everything but a decision (the file queue, or rows).
    pub deferred_store: Arc<dyn deferred::DeferredStore>,
    /// The calls placed and their outcomes (the file index, or journal rows).
    pub placed: Arc<dyn calls::PlacedCalls>,
    pub clock: SharedClock,
    pub settings: Arc<Settings>,
    queue: mpsc::UnboundedSender<Wake>,
}

impl Ledger {
    /// The ledger over its stores; returns it and the receiving end of the sender's queue.
    pub(super) fn new(
        stores: Stores,
        clock: SharedClock,
        settings: Arc<Settings>,
    ) -> (Self, mpsc::UnboundedReceiver<Wake>) {
        let (journals, tracker, outbox_store, deferred_store, placed) = stores;
        let (queue, rx) = mpsc::unbounded_channel();
        let ledger = Self {
            journals,
            tracker,
            outbox_store,
            deferred_store,
            placed,
            clock,
            settings,
            queue,
        };
        (ledger, rx)
    }

    /// Queues ids for sending (entries found open at startup).
    pub fn enqueue(&self, ids: impl IntoIterator<Item = String>) {
        for id in ids {
            self.wake_sender(&id);
        }
    }

    /// Tells the sender a call was queued.
    pub(super) fn wake_sender(&self, request_id: &str) {
        let _ = self.queue.send(Wake::Queued(request_id.to_string()));
    }

    /// Tells the sender, after `delay`, that the call's next try is due.
    pub(super) fn retry_after(&self, request_id: &str, delay: std::time::Duration) {
        let queue = self.queue.clone();
        let id = request_id.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = queue.send(Wake::Retry(id));
        });
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
    pub async fn reject(&self, request_id: &str, errors: &[String]) -> StoreResult<()> {
        self.journals
            .append_call(&CallEvent::Rejected {
                timestamp: self.clock.now(),
                request_id: request_id.into(),
                errors: errors.to_vec(),
            })
            .wait()
            .await
    }

    /// Puts a lead in the deferred queue outside a decision (a call whose window closed
    /// before it was sent, a redial); returns the entry's id.
    pub(super) async fn defer(&self, d: Deferral<'_>) -> StoreResult<String> {
        self.deferred_store.defer(d).await
    }

    /// Journals an entry leaving the queue without a decision and removes it; false when
    /// it is being released (or gone).
    pub(super) async fn dequeue(
        &self,
        e: &Queued,
        why: Removal,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let event = CallEvent::Dequeued {
            timestamp: now,
            request_id: e.request_id.clone(),
            queue_id: e.id.clone(),
            lead_id: Some(e.lead_id.clone()),
            phone: Some(e.phone.clone()),
            why,
            first_deferred_at: e.first_deferred_at,
        };
        self.deferred_store.dequeue(e, &event, why, now).await
    }

    /// Deletes an entry (admin). `Ok(None)` when there is no such entry; an entry being
    /// released cannot be deleted.
    pub async fn delete_deferred(&self, id: &str) -> StoreResult<Option<Result<Queued, Queued>>> {
        let Some(e) = self.deferred_store.get(id).await? else {
            return Ok(None);
        };
        if e.releasing.is_some() || !self.dequeue(&e, Removal::Deleted, self.clock.now()).await? {
            return Ok(Some(Err(e)));
        }
        tracing::info!(queue_id = %e.id, lead_id = %e.lead_id, "deferred lead deleted by an admin");
        Ok(Some(Ok(e)))
    }

    /// Deferred entries matching the filters, by release time, with the queue's summary
    /// (every instance's entries, in database mode).
    pub async fn deferred_page(
        &self,
        lead_id: Option<&str>,
        phone: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Page> {
        let now = self.clock.now();
        self.deferred_store
            .page(lead_id, phone, offset, limit, now)
            .await
    }

    /// An open outbox entry.
    pub async fn outbox_entry(&self, request_id: &str) -> StoreResult<Option<Entry>> {
        self.outbox_store.entry(request_id).await
    }

    /// Every open outbox entry, oldest first.
    pub async fn outbox_entries(&self) -> StoreResult<Vec<Entry>> {
        self.outbox_store.entries().await
    }

    /// Accepted calls not yet handed to Bland (every instance's, in database mode).
    pub async fn outbox_backlog(&self) -> StoreResult<usize> {
        self.outbox_store.backlog().await
    }

    /// Takes an unconfirmed or failed entry out of the outbox: sent (with its call id
    /// when known) or not.
    pub(crate) async fn outbox_settle(
        &self,
        request_id: &str,
        sent: bool,
        call_id: Option<String>,
    ) -> StoreResult<()> {
        let at = self.clock.now();
        self.outbox_store
            .settle(request_id, sent, call_id, at)
            .await
    }

    /// A resend of an unconfirmed call: queued again under the same request id. False
    /// when it is not unconfirmed any more (settled or requeued meanwhile), so it is
    /// never queued twice.
    pub(crate) async fn outbox_requeue(&self, request_id: &str, n: u32) -> StoreResult<bool> {
        let at = self.clock.now();
        let requeued = self.outbox_store.requeue(request_id, n, at).await?;
        if requeued {
            self.wake_sender(request_id);
        }
        Ok(requeued)
    }

    /// Records what a try came to; false when it could not be recorded (logged).
    pub(crate) async fn finish_try(
        &self,
        request_id: &str,
        at: DateTime<Utc>,
        tried: Tried,
    ) -> bool {
        match self.outbox_store.finish(request_id, at, tried).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(request_id, error = %e, "could not record the result of a send");
                false
            }
        }
    }

    /// The call id the call journal has for `request_id`'s `sent` line, if any (every
    /// instance's journal, in database mode).
    pub(super) async fn journaled_call_id(&self, request_id: &str) -> StoreResult<Option<String>> {
        self.placed.call_of(request_id).await
    }

    /// The dispatch line for an outbox entry settled outside a try.
    pub(super) fn dispatch_event(
        &self,
        entry: &Entry,
        status: DispatchStatus,
        call_id: Option<String>,
        error: &str,
    ) -> CallEvent {
        CallEvent::Dispatch {
            timestamp: self.clock.now(),
            request_id: entry.request_id.clone(),
            status,
            lead_id: Some(entry.lead_id.clone()),
            phone: Some(entry.phone.clone()),
            call_id,
            error: Some(error.into()),
            caller_id: None,
        }
    }

    /// An unconfirmed call Bland has: settled as sent, with its call id when known so the
    /// completion is matched.
    pub(crate) async fn settle_sent(
        &self,
        entry: &Entry,
        call_id: Option<String>,
    ) -> StoreResult<()> {
        let request_id = entry.request_id.as_str();
        // Already journaled as sent (a crash between the call journal's write and the
        // outbox's): only the outbox is behind.
        let journaled = self.journaled_call_id(request_id).await?.is_some();
        if let (Some(id), false) = (&call_id, journaled) {
            self.placed.placed(
                id,
                calls::CallRef {
                    request_id: request_id.into(),
                    lead_id: Some(entry.lead_id.clone()),
                    phone: Some(entry.phone.clone()),
                    outcome: None,
                    sent_at: Some(self.clock.now()),
                },
            );
        }
        self.outbox_settle(request_id, true, call_id.clone())
            .await?;
        if !journaled {
            let event =
                self.dispatch_event(entry, DispatchStatus::Sent, call_id, "settled as sent");
            self.record_dispatch(event).wait().await?;
        }
        Ok(())
    }

    /// Brings the database queues' sizes up to now (the `dispatch` and `scheduler` health
    /// components and `/metrics` read them); the file queues are always current.
    pub async fn refresh_counts(&self) {
        let _ = self.outbox_store.refresh().await;
        let _ = self.deferred_store.refresh(self.clock.now()).await;
    }

    /// The deferred queue's depth, entries due, and its oldest entry.
    pub fn deferred_summary(&self) -> (usize, usize, Option<DateTime<Utc>>) {
        self.deferred_store.summary(self.clock.now())
    }
}
