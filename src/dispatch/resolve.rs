//! Settling a call an admin must look at. An `unconfirmed` call (Bland may have it): Bland
//! has it (`sent`), send it again under the same request id (`resend`), or drop it
//! (`cancel`). A `failed` call (Bland certainly never took it): `resend` runs the lead
//! through the whole pipeline again under a new request id of ours (the caps, the duplicate
//! window and the calling window decide again, so a lead Convoso re-posted meanwhile is not
//! called twice), or `cancel`.

use std::io;

use serde_json::{json, Value};

use super::outbox::{Entry, Record, State};
use super::{calls, Gateway};
use crate::domain::Lead;
use crate::journal::{CallEvent, DispatchStatus};

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no open outbox entry `{0}`")]
    NotFound(String),
    #[error("entry `{0}` is {1:?}; only unconfirmed and failed calls are resolved")]
    NotResolvable(String, State),
    #[error("`sent` is only for unconfirmed calls; a failed call was never taken by Bland")]
    NotSent,
    #[error("the failed call's lead cannot be read back: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Storage(#[from] io::Error),
}

impl Gateway {
    /// Settles an unconfirmed or failed entry: `sent`, `resend` or `cancel`.
    pub async fn resolve(
        &self,
        request_id: &str,
        resolution: &str,
        call_id: Option<String>,
    ) -> Result<Value, ResolveError> {
        let entry = self
            .outbox_entry(request_id)
            .await?
            .ok_or_else(|| ResolveError::NotFound(request_id.into()))?;
        let out = match (entry.state, resolution) {
            (State::Unconfirmed, "sent") => self.settle_sent(&entry, call_id).await?,
            (State::Unconfirmed, "resend") => {
                if !self
                    .outbox_requeue(request_id, entry.attempts.len() as u32)
                    .await?
                {
                    return Err(ResolveError::NotResolvable(
                        request_id.into(),
                        State::Queued,
                    ));
                }
                json!({"request_id": request_id, "resolution": resolution})
            }
            (State::Unconfirmed | State::Failed, "cancel") => {
                self.cancel(&entry).await?;
                json!({"request_id": request_id, "resolution": resolution})
            }
            (State::Failed, "resend") => self.resend_failed(&entry).await?,
            (State::Failed, _) => return Err(ResolveError::NotSent),
            (state, _) => return Err(ResolveError::NotResolvable(request_id.into(), state)),
        };
        tracing::info!(request_id, resolution, "outbox entry resolved by an admin");
        Ok(out)
    }

    fn dispatch_event(
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
        }
    }

    /// An unconfirmed call Bland has: settled as sent, with its call id when known so the
    /// completion is matched.
    pub(crate) async fn settle_sent(
        &self,
        entry: &Entry,
        call_id: Option<String>,
    ) -> Result<Value, ResolveError> {
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
            let event = self.dispatch_event(
                entry,
                DispatchStatus::Sent,
                call_id.clone(),
                "settled as sent",
            );
            self.record_dispatch(event).wait().await?;
        }
        Ok(json!({"request_id": request_id, "resolution": "sent", "call_id": call_id}))
    }

    /// Takes an entry out of the outbox, not sent.
    async fn drop_entry(&self, entry: &Entry) -> io::Result<()> {
        self.outbox_settle(&entry.request_id, false, None).await
    }

    /// At startup (file backend): an entry left `unconfirmed` whose send (or dry run) the call journal
    /// already records (the crash came between the two writes) is settled as such.
    /// Returns how many.
    pub async fn reconcile_unconfirmed(&self, outbox: &super::outbox::Outbox) -> io::Result<usize> {
        let mut settled = 0;
        for entry in outbox.pending() {
            if entry.state != State::Unconfirmed {
                continue;
            }
            if let Some(call_id) = self.journaled_call_id(&entry.request_id).await? {
                self.settle_sent(&entry, Some(call_id))
                    .await
                    .map_err(|e| io::Error::other(e.to_string()))?;
                settled += 1;
            } else if self.journaled_dry_run(&entry)? {
                outbox
                    .record(Record::DryRun {
                        request_id: entry.request_id.clone(),
                        at: self.clock.now(),
                    })
                    .wait()
                    .await?;
                settled += 1;
            }
        }
        Ok(settled)
    }

    /// Whether the call journal (the entry's last attempt's day, or the day after) records
    /// a dry run of this entry: nothing was sent, so it needs no admin.
    fn journaled_dry_run(&self, entry: &Entry) -> io::Result<bool> {
        let Some(at) = entry.attempts.last().map(|a| a.at) else {
            return Ok(false);
        };
        let day = crate::clock::business_date(at, self.settings.timezone);
        for date in [Some(day), day.succ_opt()].into_iter().flatten() {
            let lines = self
                .journals
                .calls_containing(date, &entry.request_id, None)?;
            if lines.iter().any(|l| {
                l["event"] == "dispatch"
                    && l["status"] == "dry_run"
                    && l["request_id"] == entry.request_id.as_str()
            }) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn cancel(&self, entry: &Entry) -> Result<(), ResolveError> {
        self.drop_entry(entry).await?;
        // A failed call already freed its line; an unconfirmed one frees it now and keeps
        // counting against the caps (Bland may have placed it).
        if entry.state == State::Unconfirmed {
            let event = self.dispatch_event(
                entry,
                DispatchStatus::Cancelled,
                None,
                "cancelled by an admin",
            );
            self.record_dispatch(event).wait().await?;
        }
        Ok(())
    }

    async fn resend_failed(&self, entry: &Entry) -> Result<Value, ResolveError> {
        let fields = self
            .provider
            .lead_fields_of(&entry.body)
            .ok_or_else(|| ResolveError::Unreadable("no request_data".into()))?;
        let s = &self.settings;
        let lead = Lead::parse(fields, &s.lead_fields, &s.default_country)
            .map_err(|e| ResolveError::Unreadable(e.join("; ")))?;
        let new_id = crate::dispatch::new_request_id();
        let submitted = self.submit(&lead, &new_id).await?;
        self.drop_entry(entry).await?;
        let eval = submitted.eval;
        Ok(json!({
            "request_id": entry.request_id,
            "resolution": "resend",
            "new_request_id": new_id,
            "decision": eval.decision,
            "stage": eval.stage,
            "reason": eval.reason,
            "release_at": eval.release_at,
            "queue_id": submitted.queue_id,
        }))
    }
}

impl Gateway {
    /// The call id the call journal has for `request_id`'s `sent` line, if any (every
    /// instance's journal, in database mode).
    pub(super) async fn journaled_call_id(&self, request_id: &str) -> io::Result<Option<String>> {
        Ok(self.placed.call_of(request_id).await?)
    }
}
