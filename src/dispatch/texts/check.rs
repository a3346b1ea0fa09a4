//! What a due text's checks say, in order: its template filled from the lead (a missing
//! field drops it), the recipient's local window (the texts' hours and days, the federal
//! window, the state rules; an unknown zone drops it), the blocklist stage run on its own
//! (flags, do-not-call lists with their freshness gate, feeds — fail closed), and the
//! number's texts today (`max_per_day`, counted in the recipient's day).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::Lead;
use crate::pipeline::{Check, Verdict};
use crate::schedule::window::WeekRule;
use crate::schedule::Scheduler;

/// What to do with a due text.
#[derive(Debug, Clone, PartialEq)]
pub enum TextVerdict {
    Send {
        body: String,
    },
    /// Not now: due again at `until`.
    Wait {
        until: DateTime<Utc>,
        why: String,
    },
    /// Never.
    Drop {
        why: String,
    },
}

/// Everything the checks read besides the text.
pub struct Inputs<'a> {
    pub scheduler: &'a Scheduler,
    pub hours: &'a WeekRule,
    pub blocklist: Option<&'a dyn Check>,
    pub template: &'a str,
    /// Texts that went to the number since the start of the recipient's day.
    pub sent_today: u32,
    pub max_per_day: u32,
    /// When the recipient's next day starts (the cap's end).
    pub next_day: DateTime<Utc>,
}

pub fn check(lead: &Lead, now: DateTime<Utc>, i: &Inputs<'_>) -> TextVerdict {
    let body = match crate::sms::template::render(i.template, &lead.fields) {
        Ok(b) => b,
        Err(why) => return TextVerdict::Drop { why },
    };
    match i.scheduler.decide_text(lead, now, i.hours) {
        Verdict::Allow => {}
        Verdict::Defer { until, reason } => return TextVerdict::Wait { until, why: reason },
        Verdict::Block { reason, .. } => return TextVerdict::Drop { why: reason },
    }
    let Some(blocklist) = i.blocklist else {
        return TextVerdict::Drop {
            why: "no blocklist check is configured: a text is never sent unchecked".into(),
        };
    };
    match blocklist.evaluate(lead, now) {
        Verdict::Allow => {}
        Verdict::Defer { until, reason } => return TextVerdict::Wait { until, why: reason },
        Verdict::Block { reason, .. } => return TextVerdict::Drop { why: reason },
    }
    if i.sent_today >= i.max_per_day {
        return TextVerdict::Wait {
            until: i.next_day,
            why: format!(
                "{} text(s) went to this number today, the most a day ({})",
                i.sent_today, i.max_per_day
            ),
        };
    }
    TextVerdict::Send { body }
}

/// The recipient's zone for the daily cap: the first the scheduler finds, else `fallback`.
pub fn recipient_zone(scheduler: &Scheduler, lead: &Lead, fallback: Tz) -> Tz {
    scheduler
        .zones_of(lead)
        .first()
        .copied()
        .unwrap_or(fallback)
}
