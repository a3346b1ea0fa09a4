//! The calling window re-checked just before a send: a call accepted just before its
//! window closed, retried, or replayed after a restart goes back to the deferred queue.

use std::io;

use chrono::{DateTime, Utc};

use super::outbox::Tried;
use super::Sending;
use crate::domain::Lead;
use crate::journal::{CallEvent, DispatchStatus};
use crate::pipeline::Verdict;
use crate::schedule::queue::Deferral;
use crate::store::StoreResult;

impl Sending {
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
    ) -> StoreResult<bool> {
        let fields = self.provider.lead_fields_of(body).unwrap_or_default();
        let s = &self.ledger.settings;
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
                let id = self.ledger.defer(d).await?;
                (DispatchStatus::Deferred, reason, Some(id))
            }
            Verdict::Block { reason, .. } => (DispatchStatus::Failed, reason, None),
        };
        tracing::warn!(request_id, reason = %error, queue_id = queue.as_deref().unwrap_or(""), "the calling window closed before this call was sent; not sent");
        let why = format!("not sent, the calling window closed: {error}");
        let journaled = self.ledger.record_dispatch(CallEvent::Dispatch {
            timestamp: now,
            request_id: request_id.to_string(),
            status,
            lead_id: Some(lead_id.to_string()),
            phone: Some(phone.to_string()),
            call_id: None,
            error: Some(why.clone()),
            caller_id: None,
        });
        let tried = match queue {
            Some(queue_id) => Tried::Deferred { queue_id },
            None => Tried::Failed { error: why },
        };
        journaled.wait().await?;
        if !self.ledger.finish_try(request_id, now, tried).await {
            return Err(io::Error::other("could not record that the call was not sent").into());
        }
        Ok(false)
    }
}
