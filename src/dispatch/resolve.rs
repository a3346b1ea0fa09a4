//! Settling a call an admin must look at. An `unconfirmed` call (Bland may have it): Bland
//! has it (`sent`), send it again under the same request id (`resend`), or drop it
//! (`cancel`). A `failed` call (Bland certainly never took it): `resend` runs the lead
//! through the whole pipeline again under a new request id of ours (the caps, the duplicate
//! window and the calling window decide again, so a lead Convoso re-posted meanwhile is not
//! called twice), or `cancel`.

use serde_json::{json, Value};

use super::outbox::{Entry, Record, State};
use super::Reconciler;
use crate::domain::Lead;
use crate::journal::DispatchStatus;
use crate::store::StoreResult;

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
    Storage(#[from] crate::store::StoreError),
}

impl Reconciler {
    /// Settles an unconfirmed or failed entry: `sent`, `resend` or `cancel`.
    pub async fn resolve(
        &self,
        request_id: &str,
        resolution: &str,
        call_id: Option<String>,
    ) -> Result<Value, ResolveError> {
        let entry = self
            .ledger
            .outbox_entry(request_id)
            .await?
            .ok_or_else(|| ResolveError::NotFound(request_id.into()))?;
        let out = match (entry.state, resolution) {
            (State::Unconfirmed, "sent") => {
                self.ledger.settle_sent(&entry, call_id.clone()).await?;
                json!({"request_id": request_id, "resolution": "sent", "call_id": call_id})
            }
            (State::Unconfirmed, "resend") => {
                if !self
                    .ledger
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

    /// Takes an entry out of the outbox, not sent.
    async fn drop_entry(&self, entry: &Entry) -> StoreResult<()> {
        self.ledger
            .outbox_settle(&entry.request_id, false, None)
            .await
    }

    /// At startup (file backend): an entry left `unconfirmed` whose send (or dry run) the call journal
    /// already records (the crash came between the two writes) is settled as such.
    /// Returns how many.
    pub async fn reconcile_unconfirmed(
        &self,
        outbox: &super::outbox::Outbox,
    ) -> StoreResult<usize> {
        let mut settled = 0;
        for entry in outbox.pending() {
            if entry.state != State::Unconfirmed {
                continue;
            }
            if let Some(call_id) = self.ledger.journaled_call_id(&entry.request_id).await? {
                self.ledger.settle_sent(&entry, Some(call_id)).await?;
                settled += 1;
            } else if self.journaled_dry_run(&entry)? {
                outbox
                    .record(Record::DryRun {
                        request_id: entry.request_id.clone(),
                        at: self.ledger.clock.now(),
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
    fn journaled_dry_run(&self, entry: &Entry) -> StoreResult<bool> {
        let Some(at) = entry.attempts.last().map(|a| a.at) else {
            return Ok(false);
        };
        let day = crate::clock::business_date(at, self.ledger.settings.timezone);
        for date in [Some(day), day.succ_opt()].into_iter().flatten() {
            let lines = self
                .ledger
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
            let event = self.ledger.dispatch_event(
                entry,
                DispatchStatus::Cancelled,
                None,
                "cancelled by an admin",
            );
            self.ledger.record_dispatch(event).wait().await?;
        }
        Ok(())
    }

    async fn resend_failed(&self, entry: &Entry) -> Result<Value, ResolveError> {
        let fields = self
            .provider
            .lead_fields_of(&entry.body)
            .ok_or_else(|| ResolveError::Unreadable("no request_data".into()))?;
        let s = &self.ledger.settings;
        let lead = Lead::parse(fields, &s.lead_fields, &s.default_country)
            .map_err(|e| ResolveError::Unreadable(e.join("; ")))?;
        let new_id = crate::dispatch::new_request_id();
        let submitted = self.intake.submit(&lead, &new_id).await?;
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
