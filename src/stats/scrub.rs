//! The proof of scrub: per business day, how many leads were checked against the
//! do-not-call lists and, per list and per snapshot version in force, how many checks,
//! hits, closed-gate blocks and consent exemptions — folded from the `lists` each decision's
//! trace records (see `lists::record`). It rides in the pipeline statistics' day summary,
//! so it is cached and rolled up with it; `GET /api/admin/lists/audit` shapes it for an
//! auditor.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::DateRange;

/// One list's counts for one day (or one version's, inside it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Decisions that consulted the list and were covered by it.
    pub checked: u64,
    pub hits: u64,
    /// Blocked because the list's gate was closed (stale or never loaded).
    pub closed: u64,
    /// Let through by a consent exemption.
    pub exempt: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.checked += o.checked;
        self.hits += o.hits;
        self.closed += o.closed;
        self.exempt += o.exempt;
    }

    fn count(&mut self, result: &str) {
        if result == "not_covered" {
            return;
        }
        self.checked += 1;
        match result {
            "hit" => self.hits += 1,
            "closed" => self.closed += 1,
            "exempt" => self.exempt += 1,
            _ => {}
        }
    }
}

/// A snapshot version seen in force during the day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionDay {
    pub downloaded_at: Option<NaiveDate>,
    pub min_age_days: Option<i64>,
    pub max_age_days: Option<i64>,
    #[serde(flatten)]
    pub counts: Counts,
}

/// One list over one day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListDay {
    #[serde(flatten)]
    pub counts: Counts,
    /// Keyed by version number (`none`: the list had never been loaded).
    pub versions: BTreeMap<String, VersionDay>,
}

/// A list as a decision's trace records it (the fields the audit reads).
#[derive(Deserialize)]
pub(super) struct UseRow<'a> {
    #[serde(borrow)]
    list: Cow<'a, str>,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    downloaded_at: Option<NaiveDate>,
    #[serde(default)]
    age_days: Option<i64>,
    #[serde(borrow)]
    result: Cow<'a, str>,
}

/// A trace step, for its `lists`.
#[derive(Deserialize)]
pub(super) struct StepRow<'a> {
    #[serde(borrow, default)]
    lists: Vec<UseRow<'a>>,
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    a.max(b)
}

/// Folds one decision's trace into the day's list counts; true when any list was
/// consulted.
pub(super) fn fold(lists: &mut BTreeMap<String, ListDay>, trace: &[StepRow<'_>]) -> bool {
    let mut any = false;
    for u in trace.iter().flat_map(|s| &s.lists) {
        any = true;
        if !lists.contains_key(u.list.as_ref()) {
            lists.insert(u.list.to_string(), ListDay::default());
        }
        let Some(day) = lists.get_mut(u.list.as_ref()) else {
            continue;
        };
        day.counts.count(&u.result);
        if u.result == "not_covered" {
            continue;
        }
        let key = u
            .version
            .map_or_else(|| "none".to_string(), |v| v.to_string());
        let v = day.versions.entry(key).or_default();
        v.downloaded_at = v.downloaded_at.or(u.downloaded_at);
        v.min_age_days = min_opt(v.min_age_days, u.age_days);
        v.max_age_days = max_opt(v.max_age_days, u.age_days);
        v.counts.count(&u.result);
    }
    any
}

/// Adds `other`'s list counts into `into`.
pub(super) fn add(into: &mut BTreeMap<String, ListDay>, other: &BTreeMap<String, ListDay>) {
    for (name, day) in other {
        let mine = into.entry(name.clone()).or_default();
        mine.counts.add(&day.counts);
        for (k, v) in &day.versions {
            let m = mine.versions.entry(k.clone()).or_default();
            m.downloaded_at = m.downloaded_at.or(v.downloaded_at);
            m.min_age_days = min_opt(m.min_age_days, v.min_age_days);
            m.max_age_days = max_opt(m.max_age_days, v.max_age_days);
            m.counts.add(&v.counts);
        }
    }
}

/// One business day of the audit.
#[derive(Debug, Serialize)]
pub struct AuditDay {
    pub date: String,
    /// Decisions that consulted the lists (a lead stopped earlier, by the calling window or
    /// a flag, was not checked).
    pub leads_checked: u64,
    pub lists: BTreeMap<String, ListDay>,
}

#[derive(Debug, Serialize)]
pub struct Audit {
    pub date_range: serde_json::Value,
    pub timezone: String,
    pub days: Vec<AuditDay>,
}

/// The proof of scrub over `range`: one entry a business day (the calls statistics fold
/// each day's lists from its decisions, [`fold`]).
pub fn audit(range: DateRange, tz: &str, days: Vec<AuditDay>) -> Audit {
    Audit {
        date_range: serde_json::json!({"start": range.start.to_string(), "end": range.end.to_string()}),
        timezone: tz.to_string(),
        days,
    }
}

const CSV_HEADER: [&str; 11] = [
    "date",
    "leads_checked",
    "list",
    "version",
    "downloaded_at",
    "min_age_days",
    "max_age_days",
    "checked",
    "hits",
    "closed",
    "exempt",
];

/// One row per day, list and version in force (a day with no decision has one row naming
/// no list).
pub fn to_csv(audit: &Audit) -> Result<Vec<u8>, csv::Error> {
    let opt = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEADER)?;
    for day in &audit.days {
        let checked = day.leads_checked.to_string();
        if day.lists.is_empty() {
            w.write_record([
                day.date.as_str(),
                &checked,
                "",
                "",
                "",
                "",
                "",
                "0",
                "0",
                "0",
                "0",
            ])?;
        }
        for (name, list) in &day.lists {
            for (version, v) in &list.versions {
                let c = &v.counts;
                w.write_record([
                    day.date.clone(),
                    checked.clone(),
                    name.clone(),
                    version.clone(),
                    v.downloaded_at.map(|d| d.to_string()).unwrap_or_default(),
                    opt(v.min_age_days),
                    opt(v.max_age_days),
                    c.checked.to_string(),
                    c.hits.to_string(),
                    c.closed.to_string(),
                    c.exempt.to_string(),
                ])?;
            }
        }
    }
    w.into_inner().map_err(|e| e.into_error().into())
}
