//! The gateway's reading and settling of outbox entries (admin views, resolutions,
//! completions, the dispatcher's results), over its [`OutboxStore`]: this instance's file
//! outbox, or the database's rows shared by every instance.

use std::io;

use chrono::{DateTime, Utc};

use super::outbox::Entry;
pub use super::outbox::{OutboxStore, Tried};
use super::Gateway;

impl Gateway {
    /// An open outbox entry.
    pub async fn outbox_entry(&self, request_id: &str) -> io::Result<Option<Entry>> {
        Ok(self.outbox_store.entry(request_id).await?)
    }

    /// Every open outbox entry, oldest first.
    pub async fn outbox_entries(&self) -> io::Result<Vec<Entry>> {
        Ok(self.outbox_store.entries().await?)
    }

    /// Accepted calls not yet handed to Bland (every instance's, in database mode).
    pub async fn outbox_backlog(&self) -> io::Result<usize> {
        Ok(self.outbox_store.backlog().await?)
    }

    /// Takes an unconfirmed or failed entry out of the outbox: sent (with its call id
    /// when known) or not.
    pub(crate) async fn outbox_settle(
        &self,
        request_id: &str,
        sent: bool,
        call_id: Option<String>,
    ) -> io::Result<()> {
        let at = self.clock.now();
        Ok(self
            .outbox_store
            .settle(request_id, sent, call_id, at)
            .await?)
    }

    /// An admin's resend of an unconfirmed call: queued again under the same request id.
    /// False when it is not unconfirmed any more (settled or requeued meanwhile), so it is
    /// never queued twice.
    pub(crate) async fn outbox_requeue(&self, request_id: &str, n: u32) -> io::Result<bool> {
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
}
