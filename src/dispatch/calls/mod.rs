//! Calls Bland has taken, by `call_id`: which request they belong to and whether their
//! outcome has arrived. Rebuilt at startup from the recent call journals, so a duplicate
//! completion webhook after a restart is still recognised — also one for a call we never
//! placed, which is journaled (unmatched) once, as the database backend does.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use crate::journal::{calls_path, Outcome};
use crate::store::quarantine::Quarantine;

mod store;
pub use store::{DbCalls, FileCalls, PlacedCalls};

/// How many days of call journals are read at startup (calls end well within one).
pub const REBUILD_DAYS: u64 = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct CallRef {
    pub request_id: String,
    pub lead_id: Option<String>,
    pub phone: Option<String>,
    pub outcome: Option<Outcome>,
    /// When Bland took it (for calls whose completion never came).
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, PartialEq)]
pub enum Claim {
    /// Not a call we placed (or one older than the index remembers).
    Unknown,
    /// Its outcome was already recorded.
    Duplicate,
    /// First outcome for this call.
    New(CallRef),
}

#[derive(Default)]
pub struct CallIndex {
    calls: Mutex<HashMap<String, CallRef>>,
    /// Call ids of completions that matched no call of ours, already journaled.
    unmatched: Mutex<HashSet<String>>,
}

impl CallIndex {
    pub fn rebuild(data_dir: &Path, today: NaiveDate, quarantine: &Quarantine) -> Self {
        let index = Self::default();
        let mut calls = HashMap::new();
        let mut unmatched = HashSet::new();
        for back in (0..REBUILD_DAYS).rev() {
            let Some(date) = today.checked_sub_days(chrono::Days::new(back)) else {
                continue;
            };
            let path = calls_path(data_dir, date);
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            // Only dispatch and outcome lines carry a call id; the rest are not parsed
            // (an unreadable one is kept aside by the tracker's replay of the same file).
            let finder = memchr::memmem::Finder::new(b"\"call_id\":\"");
            let mut events = Vec::new();
            let select = |l: &[u8]| finder.find(l).is_some();
            quarantine.parse_selected::<Value>(&path, &bytes, select, |v| events.push(v));
            for event in events {
                let text = |k: &str| event.get(k).and_then(Value::as_str).map(str::to_string);
                let Some(call_id) = text("call_id") else {
                    continue;
                };
                match event.get("event").and_then(Value::as_str) {
                    Some("dispatch") if text("status").as_deref() == Some("sent") => {
                        let request_id = text("request_id").unwrap_or_default();
                        calls.insert(
                            call_id,
                            CallRef {
                                request_id,
                                lead_id: text("lead_id"),
                                phone: text("phone"),
                                outcome: None,
                                sent_at: text("timestamp").and_then(|t| t.parse().ok()),
                            },
                        );
                    }
                    Some("outcome") => match calls.get_mut(&call_id) {
                        Some(c) => {
                            c.outcome = event
                                .get("outcome")
                                .cloned()
                                .and_then(|o| serde_json::from_value(o).ok());
                        }
                        None => {
                            unmatched.insert(call_id);
                        }
                    },
                    _ => {}
                }
            }
        }
        *index.calls.lock().unwrap_or_else(PoisonError::into_inner) = calls;
        *index
            .unmatched
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = unmatched;
        index
    }

    pub fn insert(&self, call_id: &str, call: CallRef) {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(call_id.to_string(), call);
    }

    /// The call id Bland gave `request_id`, if the index knows one (a linear scan: for the
    /// handful of calls a restart leaves unconfirmed).
    pub fn call_of(&self, request_id: &str) -> Option<String> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(_, c)| c.request_id == request_id)
            .map(|(id, _)| id.clone())
    }

    pub fn contains(&self, call_id: &str) -> bool {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(call_id)
    }

    /// Records `outcome` for `call_id` unless it is unknown or already has one. Atomic, so
    /// two copies of the same webhook arriving together count once.
    pub fn claim(&self, call_id: &str, outcome: Outcome) -> Claim {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        match calls.get_mut(call_id) {
            None => {
                let mut seen = self
                    .unmatched
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if seen.insert(call_id.to_string()) {
                    Claim::Unknown
                } else {
                    Claim::Duplicate
                }
            }
            Some(c) if c.outcome.is_some() => Claim::Duplicate,
            Some(c) => {
                c.outcome = Some(outcome);
                Claim::New(c.clone())
            }
        }
    }

    /// Forgets an outcome whose journal write failed, so Bland's retry is not a duplicate.
    pub fn unclaim(&self, call_id: &str) {
        self.unmatched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(call_id);
        if let Some(c) = self
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(call_id)
        {
            c.outcome = None;
        }
    }

    /// Calls taken by Bland between `from` and `until` whose outcome has not arrived.
    pub fn silent(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<String> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, c)| c.outcome.is_none())
            .filter(|(_, c)| c.sent_at.is_some_and(|t| t >= from && t <= until))
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
