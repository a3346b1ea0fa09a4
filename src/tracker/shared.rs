//! The trackers in database mode: a number's state replaced, under its lock, by what
//! every instance's journal rows say.

use chrono::{DateTime, Utc};

use super::{lead_key, phone_key, Tracker, KEEP_SECS};
use crate::journal::CallEvent;

impl Tracker {
    /// Database mode, under the number's lock: replaces what this instance holds about
    /// `phone` (and `lead_ids` on it) with what `events` — every instance's call-journal
    /// events for the number since [`Tracker::history_since`], oldest first — say.
    pub fn load_number(&self, phone: &str, lead_ids: &[&str], events: &[CallEvent]) {
        let Some(key) = phone_key(phone) else { return };
        {
            let mut s = self.state();
            s.lines.remove(&key);
            for lead_id in lead_ids {
                s.leads.remove(&lead_key(key, lead_id));
            }
            for e in events {
                let lead = match e {
                    CallEvent::Decision { lead_id, .. }
                    | CallEvent::Dispatch { lead_id, .. }
                    | CallEvent::Outcome { lead_id, .. } => lead_id.as_deref(),
                    CallEvent::External { lead_id, .. } => Some(lead_id.as_str()),
                    _ => None,
                };
                if let Some(l) = lead {
                    s.leads.remove(&lead_key(key, l));
                }
            }
        }
        for e in events {
            self.apply(e);
        }
    }

    /// How far back a number's history matters at `now`: the rolling 24 h cap, today
    /// (a business day can last 25 h), and the duplicate window, whichever reaches
    /// furthest, with an hour to spare.
    pub fn history_since(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let (_, start) = self.today_start(now);
        let dup = i64::from(self.protection.get().doc.duplicate_window_minutes) * 60;
        let back = (KEEP_SECS + 3600).max(dup + 3600);
        let from = (now.timestamp() - back).min(start - 3600);
        DateTime::from_timestamp(from, 0).unwrap_or(now)
    }
}
