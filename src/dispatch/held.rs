//! Calls held for capacity, counted once each: while the dispatcher cannot send because
//! a calling budget is spent, a 429 paused sending or no caller id is usable, each queued
//! call gets one `held` dispatch line (the reason in `error`), which the pipeline
//! statistics count as `held_for_capacity`. In database mode only the instance holding
//! the `held_calls` lease writes them, so two instances do not count a call twice.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::Sending;
use crate::journal::{CallEvent, DispatchStatus};

/// How often the queued calls are looked at while a hold lasts.
const EVERY: Duration = Duration::from_secs(2);
const LEASE: &str = "held_calls";

/// The calls this instance counted as held in the current hold, and when it last looked.
#[derive(Default)]
pub struct Held {
    ids: Mutex<HashSet<String>>,
    looked: Mutex<Option<Instant>>,
}

impl Sending {
    /// Why nothing may be sent now for capacity, if so.
    fn hold_reason(&self) -> Option<String> {
        let now = self.ledger.clock.now();
        if let Some(p) = self.sends.paused(now) {
            return Some(format!("sending paused after a 429: {}", p.why));
        }
        if let Some(until) = self.sends.capacity(now).and_then(|u| u.held_until) {
            let until = crate::clock::format_instant(until);
            return Some(format!("a calling budget is spent until {until}"));
        }
        self.caller_ids.waiting().map(|w| w.why)
    }

    /// Journals a `held` line for each queued call not yet counted in this hold (see the
    /// module docs); forgets them when the hold ends.
    pub(super) async fn note_held(&self) {
        let Some(why) = self.hold_reason() else {
            self.held
                .ids
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
            return;
        };
        {
            let mut looked = self
                .held
                .looked
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if looked.is_some_and(|t| t.elapsed() < EVERY) {
                return;
            }
            *looked = Some(Instant::now());
        }
        let now = self.ledger.clock.now();
        match self
            .leases
            .take(LEASE, now, chrono::Duration::seconds(30))
            .await
        {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the held-calls lease");
                return;
            }
        }
        let entries = match self.ledger.outbox_entries().await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the calls held for capacity");
                return;
            }
        };
        let mut fresh = Vec::new();
        {
            let mut ids = self.held.ids.lock().unwrap_or_else(PoisonError::into_inner);
            for e in entries {
                if e.state == super::outbox::State::Queued && ids.insert(e.request_id.clone()) {
                    fresh.push(e);
                }
            }
        }
        for e in fresh {
            let line = self.ledger.journals.append_call(&CallEvent::Dispatch {
                timestamp: now,
                request_id: e.request_id.clone(),
                status: DispatchStatus::Held,
                lead_id: Some(e.lead_id.clone()),
                phone: Some(e.phone.clone()),
                call_id: None,
                error: Some(why.clone()),
                caller_id: None,
            });
            if let Err(err) = line.wait().await {
                tracing::warn!(request_id = %e.request_id, error = %err, "could not journal a call held for capacity");
            }
        }
    }
}
