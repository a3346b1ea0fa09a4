//! How each call-journal event changes the trackers' state: an accepted decision holds
//! the line and counts against the caps, a dispatch result frees or keeps it, an outcome
//! frees it and counts for the lead.

use chrono::{DateTime, Utc};

use super::*;

impl Tracker {
    /// Feeds one call-journal event into the state (live and at rebuild).
    pub fn apply(&self, event: &CallEvent) {
        match event {
            CallEvent::Decision {
                timestamp,
                request_id,
                lead_id: Some(lead_id),
                phone: Some(phone),
                decision: Decision::Accepted,
                ..
            } => self.accepted(*timestamp, request_id, lead_id, phone),
            CallEvent::Dispatch {
                timestamp,
                request_id,
                status,
                phone: Some(phone),
                ..
            } => self.dispatched(*timestamp, request_id, *status, phone),
            CallEvent::Outcome {
                timestamp,
                request_id,
                outcome,
                lead_id,
                phone: Some(phone),
                tags,
                matched: true,
                ..
            } => self.outcome(
                *timestamp,
                request_id.as_deref(),
                *outcome,
                lead_id.as_deref(),
                phone,
                tags,
            ),
            CallEvent::External {
                request_id,
                source,
                id,
                lead_id,
                phone,
                at,
                outcome,
                ..
            } => self.external(request_id, (source, id), lead_id, phone, *at, *outcome),
            CallEvent::Reply {
                timestamp,
                key,
                phone,
                ..
            } => {
                if let Some(number) = phone_key(phone) {
                    let at = pack(timestamp.timestamp());
                    self.state()
                        .replies
                        .insert(super::external_key(number, "reply", key), at);
                }
            }
            _ => {}
        }
    }

    /// A call another dialer placed counts as one of ours placed at `at`: against the
    /// caps (an accepted instant; it never holds the line, being over), and its outcome
    /// for the lead and the transfer cooldown. Its key is kept so a repeat is seen.
    fn external(
        &self,
        request_id: &str,
        key: (&str, &str),
        lead_id: &str,
        phone: &str,
        at: DateTime<Utc>,
        outcome: Option<Outcome>,
    ) {
        let Some(number) = phone_key(phone) else {
            return;
        };
        let placed = pack(at.timestamp());
        {
            let mut s = self.state();
            s.external
                .insert(external_key(number, key.0, key.1), placed);
            let line = s.lines.entry(number).or_default();
            let mut accepted = std::mem::take(&mut line.accepted).into_vec();
            let i = accepted.partition_point(|t| *t <= placed);
            accepted.insert(i, placed);
            line.accepted = accepted.into_boxed_slice();
            let lead = s.leads.entry(lead_key(number, lead_id)).or_default();
            lead.last_accepted = lead.last_accepted.max(placed);
        }
        if let Some(outcome) = outcome {
            self.outcome(at, Some(request_id), outcome, Some(lead_id), phone, &[]);
        }
    }

    /// An accepted call holds the number's line and counts against its caps.
    fn accepted(&self, timestamp: DateTime<Utc>, request_id: &str, lead_id: &str, phone: &str) {
        let Some(key) = phone_key(phone) else { return };
        let at = timestamp.timestamp();
        let mut s = self.state();
        let line = s.lines.entry(key).or_default();
        let mut accepted = std::mem::take(&mut line.accepted).into_vec();
        accepted.push(pack(at));
        line.accepted = accepted.into_boxed_slice();
        line.active = Some(Box::new(Active {
            request_id: request_id.into(),
            lead_id: lead_id.into(),
            since: at,
        }));
        let lead = s.leads.entry(lead_key(key, lead_id)).or_default();
        lead.last_accepted = pack(at);
    }

    /// A dispatch result for the call holding the line.
    fn dispatched(
        &self,
        timestamp: DateTime<Utc>,
        request_id: &str,
        status: DispatchStatus,
        phone: &str,
    ) {
        let Some(key) = phone_key(phone) else { return };
        let mut s = self.state();
        let Some(line) = s.lines.get_mut(&key) else {
            return;
        };
        let ours = line
            .active
            .as_ref()
            .is_some_and(|a| &*a.request_id == request_id);
        if !ours {
            return;
        }
        match status {
            DispatchStatus::Sent => {
                if let Some(a) = &mut line.active {
                    a.since = a.since.max(timestamp.timestamp());
                }
            }
            // Bland certainly never took it: the line is free, and the acceptance
            // counts against neither the caps nor the duplicate window.
            DispatchStatus::Failed | DispatchStatus::Deferred => {
                if let Some(a) = line.active.take() {
                    let accepted = pack(a.since);
                    if let Some(i) = line.accepted.iter().rposition(|t| *t == accepted) {
                        let mut kept = std::mem::take(&mut line.accepted).into_vec();
                        kept.remove(i);
                        line.accepted = kept.into_boxed_slice();
                    }
                    if let Some(lead) = s.leads.get_mut(&lead_key(key, &a.lead_id)) {
                        if lead.last_accepted == accepted {
                            lead.last_accepted = 0;
                        }
                    }
                }
            }
            // No call was placed, or none will report back: the line is free (a
            // dry run still counts, as a placed call would).
            DispatchStatus::DryRun | DispatchStatus::Cancelled => line.active = None,
            DispatchStatus::Unconfirmed | DispatchStatus::Held => {}
        }
    }

    /// A matched outcome frees the line (if it is that call's) and counts for the lead.
    fn outcome(
        &self,
        timestamp: DateTime<Utc>,
        request_id: Option<&str>,
        outcome: Outcome,
        lead_id: Option<&str>,
        phone: &str,
        tags: &[String],
    ) {
        let Some(key) = phone_key(phone) else { return };
        let at = timestamp.timestamp();
        let date = business_date(timestamp, self.tz);
        let not_interested = {
            let wanted = &self.protection.get().doc.not_interested_tags;
            tags.iter()
                .map(|t| normalise_tag(t))
                .find(|t| wanted.contains(t))
        };
        let mut s = self.state();
        let line = s.lines.entry(key).or_default();
        if line
            .active
            .as_ref()
            .is_some_and(|a| request_id.is_none_or(|r| &*a.request_id == r))
        {
            line.active = None;
        }
        if outcome == Outcome::Transferred {
            // The latest transfer (a call placed elsewhere may report an older one).
            line.transferred_at = line.transferred_at.max(pack(at));
        }
        if let Some(tag) = not_interested {
            line.not_interested = Some(Box::new((date, tag.into())));
        }
        if let Some(lead_id) = lead_id {
            let lead = s.leads.entry(lead_key(key, lead_id)).or_default();
            // Today's counts; an outcome of an earlier day (a call placed elsewhere,
            // reported late) leaves them alone.
            let day = day_number(date);
            if lead.day < day {
                lead.day = day;
                lead.outcomes = [0; 6];
            }
            if lead.day == day {
                let i = outcome_index(outcome);
                lead.outcomes[i] = lead.outcomes[i].saturating_add(1);
            }
        }
    }
}
