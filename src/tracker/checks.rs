//! The `answering_machine` and `protection` checks: pure reads of the tracker's state and
//! the lead, at one instant.
//!
//! Protection rules, in order (the first that refuses decides): terminal lead status,
//! invalid number, terminal outcome today (transferred, not-interested tag), duplicate
//! (same lead id + number accepted within the window), daily cap per number, rolling 24 h
//! cap for the configured states, then a call in flight or a transfer cooldown (deferred
//! until the line is free). Blocks come before the deferral so a Convoso retry of a lead
//! whose call is still running is blocked as a duplicate, not queued for a second call.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use super::numbers::refuse;
use super::{ProtectionConfig, Tracker, View};
use crate::domain::Lead;
use crate::journal::Outcome;
use crate::pipeline::{Check, Verdict};
use crate::schedule::rules::Rules;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

fn block(reason: String) -> Verdict {
    Verdict::Block {
        reason,
        details: None,
    }
}

/// Blocks a lead id + number after `max_attempts_per_day` unanswered calls today.
pub struct AnsweringMachineCheck(pub Arc<Tracker>);

impl Check for AnsweringMachineCheck {
    fn stage(&self) -> &'static str {
        "answering_machine"
    }

    fn evaluate(&self, lead: &Lead, now: DateTime<Utc>) -> Verdict {
        let c = self.0.am.get();
        let c = &c.doc;
        if !c.enabled {
            return Verdict::Allow;
        }
        let v = self.0.view(lead.phone.as_str(), &lead.lead_id, now);
        let count: u32 = c
            .counted_outcomes
            .iter()
            .map(|o| u32::from(v.outcomes_today[super::outcome_index(*o)]))
            .sum();
        if count >= c.max_attempts_per_day {
            let kinds: Vec<&str> = c.counted_outcomes.iter().map(|o| o.as_str()).collect();
            return block(format!(
                "answering machine: {count} calls today to lead {} on this number ended in {} (max {})",
                lead.lead_id,
                kinds.join(" or "),
                c.max_attempts_per_day
            ));
        }
        Verdict::Allow
    }
}

/// The protection rules.
pub struct ProtectionCheck {
    pub tracker: Arc<Tracker>,
    pub rules: Arc<Rules>,
    pub state_fields: Vec<String>,
}

impl ProtectionCheck {
    /// Whether the lead's state or its area code's state has a rolling cap.
    fn rolling_state(&self, lead: &Lead, states: &[String]) -> Option<String> {
        self.rules
            .lead_states(&self.state_fields, lead)
            .into_iter()
            .find(|s| states.iter().any(|x| x == s))
            .map(str::to_string)
    }

    fn decide(&self, lead: &Lead, now: DateTime<Utc>, v: &View) -> Verdict {
        let c = self.tracker.protection.get();
        let c = &c.doc;
        let t = now.timestamp();
        refused(lead, c, v)
            .or_else(|| self.capped(lead, t, c, v))
            .or_else(|| line_busy(t, c, v))
            .unwrap_or(Verdict::Allow)
    }

    /// The duplicate window, the daily cap, the rolling cap of the states that have one.
    fn capped(&self, lead: &Lead, t: i64, c: &ProtectionConfig, v: &View) -> Option<Verdict> {
        let r = &c.rules;
        if r.duplicate {
            let window = i64::from(c.duplicate_window_minutes) * 60;
            // Only an acceptance before `t` counts: a check asked about an earlier instant
            // (`at`) does not see a lead accepted after it as its duplicate.
            if let Some(last) = v.last_accepted.filter(|l| (0..window).contains(&(t - l))) {
                return Some(block(format!(
                    "duplicate: lead {} was accepted for this number {} s ago (window {} min)",
                    lead.lead_id,
                    t - last,
                    c.duplicate_window_minutes
                )));
            }
        }
        if r.daily_cap && v.calls_today >= c.max_daily_attempts_per_number as usize {
            return Some(block(format!(
                "daily cap: {} calls to this number today (max {})",
                v.calls_today, c.max_daily_attempts_per_number
            )));
        }
        if r.rolling_cap {
            if let Some(state) = self.rolling_state(lead, &c.rolling_cap_states) {
                let in_window: Vec<i64> = v
                    .recent
                    .iter()
                    .copied()
                    .filter(|a| t - a < 86_400)
                    .collect();
                if in_window.len() >= c.rolling_cap_calls as usize {
                    let n = in_window.len() - c.rolling_cap_calls as usize;
                    let next = in_window.get(n).map_or(t, |a| a + 86_400);
                    return Some(block(format!(
                        "{state} cap: {} calls to this number in the last 24 h (max {}); next allowed after {}",
                        in_window.len(),
                        c.rolling_cap_calls,
                        at(next).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    )));
                }
            }
        }
        None
    }
}

/// A terminal lead status, an invalid number, or a terminal outcome today.
fn refused(lead: &Lead, c: &ProtectionConfig, v: &View) -> Option<Verdict> {
    let r = &c.rules;
    if r.terminal_status {
        if let Some(status) = lead.field("status") {
            let s = status.trim().to_ascii_uppercase();
            if c.terminal_statuses.contains(&s) {
                return Some(block(format!("lead status {s} is terminal; not called")));
            }
        }
    }
    if r.invalid_numbers {
        if let Some(why) = refuse(&lead.phone, &c.invalid_numbers) {
            return Some(block(why));
        }
    }
    if r.terminal_outcomes {
        if v.transferred_at.is_some_and(|x| x >= v.today_start) {
            return Some(block(
                "this number was transferred to an agent today; no more calls until tomorrow"
                    .into(),
            ));
        }
        if let Some(tag) = &v.not_interested_today {
            return Some(block(format!(
                "a call today ended with the tag `{tag}`; no more calls until tomorrow"
            )));
        }
    }
    None
}

/// A call in flight to the number, or its transfer cooldown: deferred until the line is free.
fn line_busy(t: i64, c: &ProtectionConfig, v: &View) -> Option<Verdict> {
    let r = &c.rules;
    if r.active_call {
        let ends = i64::from(c.max_call_minutes + c.active_call_margin_minutes) * 60;
        if let Some(a) = v.active.as_ref().filter(|a| t < a.since + ends) {
            return Some(Verdict::Defer {
                until: at(a.since + ends),
                reason: format!(
                    "a call to this number is in progress (request {}, lead {}); the line is released by its outcome or at the latest after {} min",
                    a.request_id, a.lead_id, c.max_call_minutes + c.active_call_margin_minutes
                ),
            });
        }
        let cooldown = i64::from(c.transfer_cooldown_minutes) * 60;
        if let Some(x) = v.transferred_at.filter(|x| t < x + cooldown) {
            return Some(Verdict::Defer {
                until: at(x + cooldown),
                reason: format!(
                    "transfer cooldown: this number was transferred to an agent {} min ago",
                    (t - x) / 60
                ),
            });
        }
    }
    None
}

impl Check for ProtectionCheck {
    fn stage(&self) -> &'static str {
        "protection"
    }

    fn evaluate(&self, lead: &Lead, now: DateTime<Utc>) -> Verdict {
        if !self.tracker.protection.get().doc.enabled {
            return Verdict::Allow;
        }
        let v = self.tracker.view(lead.phone.as_str(), &lead.lead_id, now);
        self.decide(lead, now, &v)
    }
}

/// The outcomes an answering-machine count is made of, for the admin view.
pub fn outcome_counts(v: &View) -> serde_json::Map<String, serde_json::Value> {
    Outcome::ALL
        .iter()
        .zip(v.outcomes_today.iter())
        .map(|(o, n)| (o.as_str().to_string(), (*n).into()))
        .collect()
}
