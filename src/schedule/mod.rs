//! The `schedule` check, first in the pipeline: is now inside the operator's business hours
//! *and* inside the legal calling window at the called party's location?
//!
//! - Business hours ([`config`]): one window per weekday in one zone, blackout dates,
//!   federal holidays on/off.
//! - Local window ([`rules`]): the federal 08:00–21:00 floor and the state rules, in every
//!   zone the called party may be in. Candidate zones come from the lead's state field
//!   (every zone of a multi-zone state) and from the phone's area code (every zone seen
//!   under it). The rules of the lead's state *and* of the area code's state apply. The
//!   call is allowed only if every rule is open in every candidate zone.
//! - Outside: defer until the earliest instant at which every window is open at once
//!   (searched over the next 14 days across nights, weekends, holidays and DST), or block
//!   if there is none. With no candidate zone at all the lead is blocked (fail closed)
//!   unless `local_window.unknown_zone` is `all_us_zones`.
//!
//! Every window is start-inclusive and end-exclusive.

pub mod config;
pub mod holidays;
pub mod queue;
pub mod rules;
pub mod window;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::domain::Lead;
use crate::pipeline::{Check, Verdict};
use crate::store::document::Document;
use config::{Compiled, SchedulerConfig, UnknownZone, CONFIG_FILE};
use rules::Rules;
use window::WeekRule;

/// How far ahead a release time is searched for.
pub const HORIZON_DAYS: i64 = 14;

pub struct Scheduler {
    pub rules: Arc<Rules>,
    pub config: Document<SchedulerConfig, Compiled>,
    /// Where the lead's state is read from (`LEAD_STATE_FIELDS`).
    pub state_fields: Vec<String>,
}

impl Scheduler {
    /// Loads the rules (built-in or `DATA_DIR` overrides: reference data, alike on every
    /// instance) and the config document from `docs`.
    pub async fn open(
        data_dir: &std::path::Path,
        default_tz: Tz,
        state_fields: Vec<String>,
        docs: Arc<dyn crate::store::doc_store::DocumentStore>,
    ) -> anyhow::Result<Self> {
        let rules = Arc::new(Rules::load(data_dir)?);
        let config = Document::open(
            docs,
            CONFIG_FILE,
            SchedulerConfig::defaults(default_tz),
            Self::parser(&rules),
        )
        .await?;
        Ok(Self {
            rules,
            config,
            state_fields,
        })
    }

    fn parser(rules: &Rules) -> crate::store::document::Parse<SchedulerConfig, Compiled> {
        let federal = rules.federal_holidays.clone();
        Box::new(move |v| {
            let c = SchedulerConfig::parse(v)?;
            let compiled = config::compile(&c, &federal)?;
            Ok((c, compiled))
        })
    }

    fn lead_state<'a>(&self, lead: &'a Lead) -> Option<&'a str> {
        self.state_fields
            .iter()
            .find_map(|f| lead.fields.get(f).and_then(|v| v.as_str()))
    }

    /// Allow, defer until the next instant every window is open, or block.
    pub fn decide(&self, lead: &Lead, now: DateTime<Utc>) -> Verdict {
        let stored = self.config.get();
        let c = &stored.compiled;
        let mut constraints: Vec<(&WeekRule, Tz)> = Vec::new();
        if let Some((rule, tz)) = &c.business {
            constraints.push((rule, *tz));
        }
        let place;
        if let Some(unknown) = c.local {
            place = self.rules.place(self.lead_state(lead), &lead.phone);
            let zones: &[Tz] = if !place.zones.is_empty() {
                &place.zones
            } else if unknown == UnknownZone::AllUsZones {
                &self.rules.all_zones
            } else {
                return Verdict::Block {
                    reason: format!(
                        "the called party's local time cannot be determined: {}",
                        place.notes.join("; ")
                    ),
                    details: None,
                };
            };
            let states = place.states.iter().map(|s| &s.rule);
            for rule in std::iter::once(&self.rules.federal).chain(states) {
                for z in zones {
                    constraints.push((rule, *z));
                }
            }
        }
        verdict(&constraints, now)
    }

    /// The zones the called party may be in (from the lead's state and area code).
    pub fn zones_of(&self, lead: &Lead) -> Vec<Tz> {
        self.rules.place(self.lead_state(lead), &lead.phone).zones
    }

    /// Whether a text may be sent to `lead` now: `hours` (the texts' own weekly rule), the
    /// federal window and the recipient's state rules, in every zone the recipient may be
    /// in. Business hours do not apply; a recipient whose zone cannot be told is refused.
    pub fn decide_text(&self, lead: &Lead, now: DateTime<Utc>, hours: &WeekRule) -> Verdict {
        let place = self.rules.place(self.lead_state(lead), &lead.phone);
        if place.zones.is_empty() {
            return Verdict::Block {
                reason: format!(
                    "the recipient's local time cannot be determined: {}",
                    place.notes.join("; ")
                ),
                details: None,
            };
        }
        let mut constraints: Vec<(&WeekRule, Tz)> = Vec::new();
        let states = place.states.iter().map(|s| &s.rule);
        for rule in [hours, &self.rules.federal].into_iter().chain(states) {
            for z in &place.zones {
                constraints.push((rule, *z));
            }
        }
        verdict(&constraints, now)
    }

    /// How long a deferred lead may wait in the queue.
    pub fn max_defer(&self) -> Duration {
        self.config.get().compiled.max_defer
    }
}

/// Allow when every constraint is open, else defer to the first instant all are.
fn verdict(constraints: &[(&WeekRule, Tz)], now: DateTime<Utc>) -> Verdict {
    let Some(closed) = first_closed(constraints, now) else {
        return Verdict::Allow;
    };
    match next_open(constraints, now) {
        Some(until) => Verdict::Defer {
            until,
            reason: closed,
        },
        None => Verdict::Block {
            reason: format!("no calling window opens within {HORIZON_DAYS} days: {closed}"),
            details: None,
        },
    }
}

fn first_closed(constraints: &[(&WeekRule, Tz)], at: DateTime<Utc>) -> Option<String> {
    constraints
        .iter()
        .find_map(|(rule, zone)| rule.closed_at(*zone, at))
        .map(|c| c.reason)
}

/// The earliest instant in the horizon at which every constraint is open. The start of an
/// intersection of windows is always the start of one of them, so only openings are tried.
fn next_open(constraints: &[(&WeekRule, Tz)], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let until = now + Duration::days(HORIZON_DAYS);
    let mut candidates = Vec::new();
    for (rule, zone) in constraints {
        rule.openings(*zone, now, until, &mut candidates);
    }
    candidates.sort_unstable();
    candidates.dedup();
    candidates
        .into_iter()
        .find(|t| first_closed(constraints, *t).is_none())
}

/// The pipeline's `schedule` stage.
pub struct ScheduleCheck(pub Arc<Scheduler>);

impl Check for ScheduleCheck {
    fn stage(&self) -> &'static str {
        "schedule"
    }

    fn evaluate(&self, lead: &Lead, now: DateTime<Utc>) -> Verdict {
        self.0.decide(lead, now)
    }
}

#[cfg(test)]
mod tests;
