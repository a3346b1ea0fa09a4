//! What one list says about one lead at one instant, as a pure function of the list's
//! settings, the version in force and the lead (the pipeline check and its tests use the
//! same code). In order: a state list covers only leads of its states; consent exempts a
//! lead from `national_dnc` and `state_dnc` lists (never internal or litigator lists);
//! a gated list whose snapshot is older than `max_age_days` — or that has no snapshot —
//! blocks every lead it covers (fail closed: a stale registry is not a current registry);
//! then the number itself.

use chrono::{DateTime, NaiveDate, Utc};

use super::set::{Match, NumberSet};
use crate::config::lists::ListSettings;
use crate::domain::Lead;

/// `/health` turns `degraded` this many days before a gate closes.
pub const WARN_DAYS: i64 = 5;

/// A loaded version of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub version: u64,
    /// When the operator downloaded the file (the 31-day rule counts from it).
    pub downloaded_at: NaiveDate,
}

/// A list's answer for a lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A state list for other states.
    NotCovered,
    /// Consent in `field` exempts the lead.
    Exempt {
        field: String,
    },
    /// The gate is closed: no current snapshot.
    Closed {
        reason: String,
    },
    /// The number is on the list (or under one of its prefixes).
    Hit {
        prefix: Option<u32>,
    },
    Clear,
}

/// Why a hit blocks: the list, its kind and its snapshot date (formatted only for the list
/// that decides, not for every lookup).
pub fn hit_reason(kind: &str, name: &str, downloaded_at: Option<NaiveDate>) -> String {
    match downloaded_at {
        Some(d) => format!("on {kind} \"{name}\" (snapshot {d})"),
        None => format!("on {kind} \"{name}\""),
    }
}

/// How current a list is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Not gated, or well inside its age.
    Ok,
    /// Gated and within [`WARN_DAYS`] of closing.
    Soon { days_left: i64 },
    /// The gate is closed (older than `max_age_days`, or never loaded).
    Stale,
}

/// Age of a snapshot in whole days on `today` (a business date).
pub fn age_days(snapshot: &Snapshot, today: NaiveDate) -> i64 {
    (today - snapshot.downloaded_at).num_days()
}

pub fn freshness(list: &ListSettings, snapshot: Option<&Snapshot>, today: NaiveDate) -> Freshness {
    let Some(max) = list.max_age_days else {
        return Freshness::Ok;
    };
    let Some(s) = snapshot else {
        return Freshness::Stale;
    };
    let left = i64::from(max) - age_days(s, today);
    if left < 0 {
        Freshness::Stale
    } else if left < WARN_DAYS {
        Freshness::Soon { days_left: left }
    } else {
        Freshness::Ok
    }
}

/// A consent instant (RFC 3339) or date (`YYYY-MM-DD`, read as its start in UTC).
fn consent_at(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
        })
}

/// The list's answer for `lead` (in `states`: the state its state field names and the state
/// of its area code, as codes; number `national`) at `now`, `today` being the business date
/// of `now`.
pub fn judge(
    list: &ListSettings,
    version: Option<(&Snapshot, &NumberSet)>,
    lead: &Lead,
    states: &[&str],
    national: Option<u64>,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> Verdict {
    if !list.states.is_empty()
        && !states
            .iter()
            .any(|s| list.states.iter().any(|x| x.eq_ignore_ascii_case(s)))
    {
        return Verdict::NotCovered;
    }
    if let Some(e) = list
        .exemption
        .as_ref()
        .filter(|_| list.kind.accepts_consent())
    {
        // In whole days, like the registry's own age: consent given on a date counts
        // through the `max_age_days`-th day after it.
        let given = lead.field(&e.consent_field).and_then(|v| consent_at(&v));
        let max = i64::from(e.max_age_days);
        if given.is_some_and(|at| at <= now && (today - at.date_naive()).num_days() <= max) {
            return Verdict::Exempt {
                field: e.consent_field.clone(),
            };
        }
    }
    let kind = list.kind.as_str();
    // An emptied gated list is no current list either.
    let version = version.filter(|(_, set)| !set.is_empty() || list.max_age_days.is_none());
    if freshness(list, version.map(|(s, _)| s), today) == Freshness::Stale {
        let reason = match version {
            None => format!("{kind} \"{}\" has no current snapshot: calls it covers are not placed", list.name),
            Some((s, _)) => format!(
                "{kind} \"{}\" is stale: snapshot {} is {} days old (max {}); calls it covers are not placed",
                list.name,
                s.downloaded_at,
                age_days(s, today),
                list.max_age_days.unwrap_or(0)
            ),
        };
        return Verdict::Closed { reason };
    }
    let (Some((_, set)), Some(number)) = (version, national) else {
        return Verdict::Clear;
    };
    match set.lookup(number) {
        None => Verdict::Clear,
        Some(m) => Verdict::Hit {
            prefix: match m {
                Match::Number => None,
                Match::Prefix(p) => Some(p),
            },
        },
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
