//! Calls another dialer placed (`POST /webhooks/attempt`): recorded in the call journal
//! under the number's lock, on either backend, so they count toward the caps, the
//! answering-machine counts and the transfer cooldown exactly as our own calls do
//! ([`crate::tracker`] applies them). The poster's (source, id) is recorded once: a
//! repeat finds it in the trackers — in database mode, in every instance's history of
//! the number, read under its lock — and changes nothing.

use chrono::{DateTime, Utc};

use super::Intake;
use crate::domain::Lead;
use crate::journal::{CallEvent, Outcome};
use crate::store::StoreResult;

/// A call placed elsewhere, as posted (validated by the route).
pub struct ExternalCall<'a> {
    pub lead: &'a Lead,
    pub source: &'a str,
    pub id: &'a str,
    /// When it was placed.
    pub at: DateTime<Utc>,
    pub outcome: Option<Outcome>,
}

/// What recording a call placed elsewhere did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Journaled under our `request_id`; it counts from now on.
    New { request_id: String },
    /// (source, id) was recorded before for this number: nothing changed.
    Duplicate,
}

impl Intake {
    /// Records `call` (see the module docs); durable when it returns `New`.
    pub async fn record_external(
        &self,
        call: ExternalCall<'_>,
        request_id: &str,
    ) -> StoreResult<Recorded> {
        let now = self.ledger.clock.now();
        let leads = [call.lead];
        let mut unit = self.decisions.begin(&leads, now).await?;
        let phone = call.lead.phone.as_str();
        if self
            .ledger
            .tracker
            .has_external(phone, call.source, call.id)
        {
            return Ok(Recorded::Duplicate);
        }
        let event = CallEvent::External {
            timestamp: now,
            request_id: request_id.to_string(),
            source: call.source.to_string(),
            id: call.id.to_string(),
            lead_id: call.lead.lead_id.clone(),
            phone: phone.to_string(),
            at: call.at,
            outcome: call.outcome,
        };
        unit.record(&event).await?;
        unit.commit().await?;
        tracing::info!(request_id, source = call.source, id = call.id, phone, lead_id = %call.lead.lead_id,
            at = %crate::clock::format_instant(call.at), "a call placed elsewhere was recorded");
        Ok(Recorded::New {
            request_id: request_id.to_string(),
        })
    }
}
