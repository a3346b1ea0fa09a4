//! What a decision records of the lists it was checked against: one [`ListUse`] per list,
//! in the blocklist step of the trace (and so in the call journal). Statistics and the
//! audit read these back; "was this call scrubbed against a current list?" is answered per
//! call from them.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::rules::Verdict;

/// A list's answer, as journaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListResult {
    /// Checked; the number is not on it.
    Clear,
    /// The number is on it (or under one of its prefixes): blocked.
    Hit,
    /// Consent exempted the lead from it.
    Exempt,
    /// Its gate is closed (stale or never loaded): blocked.
    Closed,
    /// A state list for other states.
    NotCovered,
}

impl ListResult {
    pub fn blocks(self) -> bool {
        matches!(self, Self::Hit | Self::Closed)
    }
}

/// One list consulted for one decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListUse {
    pub list: std::sync::Arc<str>,
    /// The snapshot version in force; `None` when the list was never loaded.
    pub version: Option<u64>,
    pub downloaded_at: Option<NaiveDate>,
    /// Age of that snapshot on the decision's business date, in days.
    pub age_days: Option<i64>,
    pub result: ListResult,
    /// The consent field that exempted the lead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exemption: Option<String>,
}

impl ListUse {
    pub fn new(
        list: &std::sync::Arc<str>,
        snapshot: Option<&super::rules::Snapshot>,
        today: NaiveDate,
        verdict: &Verdict,
    ) -> Self {
        let (result, exemption) = match verdict {
            Verdict::Clear => (ListResult::Clear, None),
            Verdict::Hit { .. } => (ListResult::Hit, None),
            Verdict::Exempt { field } => (ListResult::Exempt, Some(field.clone())),
            Verdict::Closed { .. } => (ListResult::Closed, None),
            Verdict::NotCovered => (ListResult::NotCovered, None),
        };
        Self {
            list: list.clone(),
            version: snapshot.map(|s| s.version),
            downloaded_at: snapshot.map(|s| s.downloaded_at),
            age_days: snapshot.map(|s| super::rules::age_days(s, today)),
            result,
            exemption,
        }
    }
}
