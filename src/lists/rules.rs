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
mod tests {
    use super::*;
    use crate::config::lists::{Exemption, ListKind};

    fn list(kind: ListKind, max_age_days: Option<u32>) -> ListSettings {
        ListSettings {
            name: "ftc".into(),
            kind,
            max_age_days,
            states: Vec::new(),
            exemption: Some(Exemption {
                consent_field: "tcpa_consent_at".into(),
                max_age_days: 365,
            }),
        }
    }

    fn lead(extra: serde_json::Value) -> Lead {
        let mut fields = serde_json::json!({"phone_number": "3055551234", "lead_id": "L1"});
        if let (Some(f), Some(x)) = (fields.as_object_mut(), extra.as_object()) {
            f.extend(x.clone());
        }
        let serde_json::Value::Object(map) = fields else {
            unreachable!()
        };
        Lead::parse(map, &crate::domain::LeadFieldNames::default(), "US").expect("lead")
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    fn on_list() -> NumberSet {
        let mut set = NumberSet::new();
        set.insert(3055551234);
        set
    }

    #[test]
    fn the_freshness_gate_closes_the_day_after_max_age() {
        let l = list(ListKind::NationalDnc, Some(31));
        let snap = Snapshot {
            version: 1,
            downloaded_at: day("2026-11-01"),
        };
        let set = on_list();
        let now = |d: &str| (at(&format!("{d}T15:00:00Z")), day(d));
        let v = |d: &str| {
            let (n, t) = now(d);
            judge(
                &l,
                Some((&snap, &set)),
                &lead(serde_json::json!({})),
                &[],
                Some(4045550000),
                n,
                t,
            )
        };
        assert_eq!(
            v("2026-12-02"),
            Verdict::Clear,
            "31 days old: still current"
        );
        assert!(
            matches!(v("2026-12-03"), Verdict::Closed { reason } if reason.contains("32 days old"))
        );
        assert_eq!(freshness(&l, Some(&snap), day("2026-11-27")), Freshness::Ok);
        assert_eq!(
            freshness(&l, Some(&snap), day("2026-11-28")),
            Freshness::Soon { days_left: 4 }
        );
        // Never loaded: closed. An internal list is never gated.
        let (n, t) = now("2026-11-02");
        assert!(matches!(
            judge(
                &l,
                None,
                &lead(serde_json::json!({})),
                &[],
                Some(3055551234),
                n,
                t
            ),
            Verdict::Closed { .. }
        ));
        let internal = list(ListKind::InternalDnc, None);
        assert_eq!(freshness(&internal, None, day("2030-01-01")), Freshness::Ok);
        // An emptied gated list is no current list; an emptied internal list just matches
        // nothing.
        let (n, t) = now("2026-11-02");
        let empty = NumberSet::new();
        assert!(matches!(
            judge(
                &l,
                Some((&snap, &empty)),
                &lead(serde_json::json!({})),
                &[],
                Some(4045550000),
                n,
                t
            ),
            Verdict::Closed { .. }
        ));
        assert_eq!(
            judge(
                &internal,
                Some((&snap, &empty)),
                &lead(serde_json::json!({})),
                &[],
                Some(4045550000),
                n,
                t
            ),
            Verdict::Clear
        );
    }

    #[test]
    fn a_hit_names_the_list_and_its_snapshot() {
        let l = list(ListKind::NationalDnc, Some(31));
        let snap = Snapshot {
            version: 3,
            downloaded_at: day("2026-11-28"),
        };
        let set = on_list();
        let v = judge(
            &l,
            Some((&snap, &set)),
            &lead(serde_json::json!({})),
            &[],
            Some(3055551234),
            at("2026-12-01T15:00:00Z"),
            day("2026-12-01"),
        );
        assert_eq!(v, Verdict::Hit { prefix: None });
    }

    #[test]
    fn consent_exempts_inside_its_age_and_never_from_internal_lists() {
        let snap = Snapshot {
            version: 1,
            downloaded_at: day("2026-11-28"),
        };
        let set = on_list();
        let now = at("2026-12-01T15:00:00Z");
        let today = day("2026-12-01");
        let national = list(ListKind::NationalDnc, Some(31));
        let with = |consent: &str| lead(serde_json::json!({"tcpa_consent_at": consent}));
        let judge_national = |l: &Lead| {
            judge(
                &national,
                Some((&snap, &set)),
                l,
                &[],
                Some(3055551234),
                now,
                today,
            )
        };
        assert!(matches!(
            judge_national(&with("2026-06-01T00:00:00Z")),
            Verdict::Exempt { .. }
        ));
        assert!(
            matches!(judge_national(&with("2025-12-01")), Verdict::Exempt { .. }),
            "365 days"
        );
        assert!(
            matches!(judge_national(&with("2025-11-30")), Verdict::Hit { .. }),
            "366 days"
        );
        assert!(
            matches!(judge_national(&with("2027-01-01")), Verdict::Hit { .. }),
            "in the future"
        );
        assert!(
            matches!(judge_national(&with("yesterday")), Verdict::Hit { .. }),
            "unreadable"
        );
        // A stale registry does not matter to a lead that consented.
        let stale_day = day("2027-06-01");
        assert!(matches!(
            judge(
                &national,
                Some((&snap, &set)),
                &with("2027-05-01"),
                &[],
                Some(3055551234),
                at("2027-06-01T15:00:00Z"),
                stale_day
            ),
            Verdict::Exempt { .. }
        ));
        let mut internal = list(ListKind::InternalDnc, None);
        internal.exemption = national.exemption.clone();
        assert!(matches!(
            judge(
                &internal,
                Some((&snap, &set)),
                &with("2026-11-30"),
                &[],
                Some(3055551234),
                now,
                today
            ),
            Verdict::Hit { .. }
        ));
    }

    #[test]
    fn a_state_list_covers_only_its_states() {
        let mut tx = list(ListKind::StateDnc, Some(90));
        tx.states = vec!["TX".into()];
        tx.exemption = None;
        let snap = Snapshot {
            version: 1,
            downloaded_at: day("2026-11-28"),
        };
        let set = on_list();
        let v = |states: &[&str]| {
            judge(
                &tx,
                Some((&snap, &set)),
                &lead(serde_json::json!({})),
                states,
                Some(3055551234),
                at("2026-12-01T15:00:00Z"),
                day("2026-12-01"),
            )
        };
        assert!(matches!(v(&["TX"]), Verdict::Hit { .. }));
        assert!(
            matches!(v(&["FL", "tx"]), Verdict::Hit { .. }),
            "by area code"
        );
        assert_eq!(v(&["FL"]), Verdict::NotCovered);
        assert_eq!(v(&[]), Verdict::NotCovered);
    }
}
