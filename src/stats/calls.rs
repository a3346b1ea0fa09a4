//! Pipeline statistics per business day from `calls_YYYY-MM-DD.jsonl`: leads received,
//! decisions, blocks by stage, dispatches and call outcomes.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::scrub::{self, ListDay, StepRow};
use super::DaySummary;
use crate::journal::Outcome;

/// The pipeline's stages, in order; every day reports each of them.
pub const STAGES: [&str; 4] = ["schedule", "answering_machine", "protection", "blocklist"];

/// A human conversation of at least this many seconds counts as `answered`.
pub const ANSWERED_MIN_SECONDS: f64 = 20.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallsDay {
    /// New leads (webhooks decided for the first time; re-runs of deferred leads excluded).
    pub leads_received: u64,
    /// Decisions of each kind, re-runs of deferred leads included.
    pub accepted: u64,
    pub deferred: u64,
    pub blocked: BTreeMap<String, u64>,
    pub blocked_total: u64,
    /// Webhooks refused as invalid input.
    pub rejected: u64,
    /// Deferred leads that left the queue unreleased: older than `max_defer_hours`, or
    /// deleted by an admin.
    #[serde(default)]
    pub expired: u64,
    #[serde(default)]
    pub deleted: u64,
    /// Calls Bland accepted.
    pub dispatched: u64,
    /// Calls logged but not sent (no Bland key).
    pub dry_run: u64,
    pub dispatch_failures: u64,
    pub unconfirmed: u64,
    /// Accepted calls not sent because the calling window closed first (re-queued).
    #[serde(default)]
    pub requeued: u64,
    /// Accepted calls that waited for capacity: a calling budget spent, sending paused
    /// after a 429, or no caller id usable (journaled `held`, once per call and hold).
    #[serde(default)]
    pub held_for_capacity: u64,
    /// The calls counted in `held_for_capacity` while a day is folded (a call held again
    /// after a restart is one call).
    #[serde(skip)]
    held_seen: std::collections::BTreeSet<String>,
    /// Outcomes of our calls (completions that matched a call we placed).
    pub outcomes: BTreeMap<String, u64>,
    /// Completions for calls we did not place (journaled `matched: false`), counted apart:
    /// they change nothing else.
    #[serde(default)]
    pub unmatched: u64,
    /// `human` outcomes of at least 20 s.
    pub answered: u64,
    /// Redials scheduled, placed (Bland took them) and exhausted (`max_redials` reached).
    #[serde(default)]
    pub redials_scheduled: u64,
    #[serde(default)]
    pub redials_placed: u64,
    #[serde(default)]
    pub redials_exhausted: u64,
    /// Follow-up texts scheduled, sent (or logged in a dry run), blocked (never to go, or
    /// cancelled) and failed (refused, or unconfirmed).
    #[serde(default)]
    pub texts_scheduled: u64,
    #[serde(default)]
    pub texts_sent: u64,
    #[serde(default)]
    pub texts_blocked: u64,
    #[serde(default)]
    pub texts_failed: u64,
    /// Texts the leads sent us, the opt-outs among them, and callbacks asked for (by
    /// text or the callback webhook).
    #[serde(default)]
    pub replies: u64,
    #[serde(default)]
    pub opt_outs: u64,
    #[serde(default)]
    pub callbacks: u64,
    /// Decisions checked against the do-not-call lists.
    #[serde(default)]
    pub lists_checked: u64,
    /// Per do-not-call list: checks, hits, closed-gate blocks, exemptions, and the
    /// snapshot versions in force ([`super::scrub`]).
    #[serde(default)]
    pub lists: BTreeMap<String, ListDay>,
}

impl Default for CallsDay {
    fn default() -> Self {
        Self {
            leads_received: 0,
            accepted: 0,
            deferred: 0,
            blocked: STAGES.iter().map(|s| (s.to_string(), 0)).collect(),
            blocked_total: 0,
            rejected: 0,
            expired: 0,
            deleted: 0,
            dispatched: 0,
            dry_run: 0,
            dispatch_failures: 0,
            unconfirmed: 0,
            requeued: 0,
            held_for_capacity: 0,
            held_seen: Default::default(),
            outcomes: Outcome::ALL
                .iter()
                .map(|o| (o.as_str().to_string(), 0))
                .collect(),
            unmatched: 0,
            answered: 0,
            redials_scheduled: 0,
            redials_placed: 0,
            redials_exhausted: 0,
            texts_scheduled: 0,
            texts_sent: 0,
            texts_blocked: 0,
            texts_failed: 0,
            replies: 0,
            opt_outs: 0,
            callbacks: 0,
            lists_checked: 0,
            lists: BTreeMap::new(),
        }
    }
}

#[derive(Deserialize)]
struct Row<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow, default)]
    decision: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    stage: Option<Cow<'a, str>>,
    #[serde(default)]
    release: bool,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    request_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    outcome: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    why: Option<Cow<'a, str>>,
    #[serde(default)]
    duration_s: Option<f64>,
    #[serde(borrow, default)]
    trace: Option<Vec<StepRow<'a>>>,
    #[serde(borrow, default)]
    result: Option<Cow<'a, str>>,
    #[serde(default)]
    matched: Option<bool>,
    #[serde(borrow, default)]
    asked: Option<Cow<'a, str>>,
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

impl DaySummary for CallsDay {
    fn fold(&mut self, line: &[u8]) -> bool {
        let Ok(row) = serde_json::from_slice::<Row<'_>>(line) else {
            return false;
        };
        match row.event.as_ref() {
            "decision" => {
                if !row.release {
                    self.leads_received += 1;
                }
                match row.decision.as_deref() {
                    Some("accepted") => self.accepted += 1,
                    Some("deferred") => self.deferred += 1,
                    Some("blocked") => {
                        self.blocked_total += 1;
                        bump(&mut self.blocked, row.stage.as_deref().unwrap_or("unknown"));
                    }
                    _ => return false,
                }
                if scrub::fold(&mut self.lists, row.trace.as_deref().unwrap_or_default()) {
                    self.lists_checked += 1;
                }
            }
            "rejected" => self.rejected += 1,
            "dequeued" => match row.why.as_deref() {
                Some("expired") => self.expired += 1,
                Some("deleted") => self.deleted += 1,
                _ => return false,
            },
            "dispatch" => match row.status.as_deref() {
                Some("sent") => self.dispatched += 1,
                Some("dry_run") => self.dry_run += 1,
                Some("failed") => self.dispatch_failures += 1,
                Some("unconfirmed") => self.unconfirmed += 1,
                Some("deferred") => self.requeued += 1,
                Some("held") => {
                    let id = row.request_id.as_deref().unwrap_or_default();
                    if self.held_seen.insert(id.to_string()) {
                        self.held_for_capacity += 1;
                    }
                }
                _ => return false,
            },
            "outcome" => {
                let Some(outcome) = row.outcome.as_deref() else {
                    return false;
                };
                if row.matched == Some(false) {
                    self.unmatched += 1;
                    return true;
                }
                bump(&mut self.outcomes, outcome);
                if outcome == "human" && row.duration_s.unwrap_or(0.0) >= ANSWERED_MIN_SECONDS {
                    self.answered += 1;
                }
            }
            "redial" => match row.result.as_deref() {
                Some("scheduled") => self.redials_scheduled += 1,
                Some("placed") => self.redials_placed += 1,
                Some("exhausted") => self.redials_exhausted += 1,
                _ => {}
            },
            "sms_scheduled" => self.texts_scheduled += 1,
            "sms_sent" => self.texts_sent += 1,
            "sms_blocked" => self.texts_blocked += 1,
            "sms_failed" => self.texts_failed += 1,
            "reply" => {
                self.replies += 1;
                if row.asked.as_deref() == Some("opt_out") {
                    self.opt_outs += 1;
                }
            }
            "callback" => self.callbacks += 1,
            // Later event kinds are journaled without counting here.
            _ => {}
        }
        true
    }
}

impl CallsDay {
    pub fn add(&mut self, other: &CallsDay) {
        self.leads_received += other.leads_received;
        self.accepted += other.accepted;
        self.deferred += other.deferred;
        self.blocked_total += other.blocked_total;
        self.rejected += other.rejected;
        self.expired += other.expired;
        self.deleted += other.deleted;
        self.dispatched += other.dispatched;
        self.dry_run += other.dry_run;
        self.dispatch_failures += other.dispatch_failures;
        self.unconfirmed += other.unconfirmed;
        self.requeued += other.requeued;
        self.held_for_capacity += other.held_for_capacity;
        self.answered += other.answered;
        self.unmatched += other.unmatched;
        self.lists_checked += other.lists_checked;
        self.redials_scheduled += other.redials_scheduled;
        self.redials_placed += other.redials_placed;
        self.redials_exhausted += other.redials_exhausted;
        self.texts_scheduled += other.texts_scheduled;
        self.texts_sent += other.texts_sent;
        self.texts_blocked += other.texts_blocked;
        self.texts_failed += other.texts_failed;
        self.replies += other.replies;
        self.opt_outs += other.opt_outs;
        self.callbacks += other.callbacks;
        scrub::add(&mut self.lists, &other.lists);
        for (k, v) in &other.blocked {
            *self.blocked.entry(k.clone()).or_insert(0) += v;
        }
        for (k, v) in &other.outcomes {
            *self.outcomes.entry(k.clone()).or_insert(0) += v;
        }
    }
}

#[derive(Serialize)]
pub struct DayRow {
    pub date: String,
    #[serde(flatten)]
    pub counts: CallsDay,
}

#[derive(Serialize)]
pub struct PipelineStatistics {
    pub date_range: serde_json::Value,
    pub timezone: String,
    pub days: Vec<DayRow>,
    pub total: CallsDay,
}

pub fn merge(
    range: super::DateRange,
    tz: &str,
    days: &[(NaiveDate, Arc<CallsDay>)],
) -> PipelineStatistics {
    let mut total = CallsDay::default();
    let rows = days
        .iter()
        .map(|(date, day)| {
            total.add(day);
            DayRow {
                date: date.to_string(),
                counts: (**day).clone(),
            }
        })
        .collect();
    PipelineStatistics {
        date_range: serde_json::json!({"start": range.start.to_string(), "end": range.end.to_string()}),
        timezone: tz.to_string(),
        days: rows,
        total,
    }
}

#[path = "calls_csv.rs"]
mod csv_rows;
pub use csv_rows::to_csv;
