//! Replaying the outbox log: each record applied to the entries it changes, and the log
//! rewritten at startup with only the entries still open.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{AttemptLog, Entry, Record, State};

enum Kind {
    Failed,
    Other,
}

pub(super) fn apply(entries: &mut HashMap<String, Entry>, record: Record) {
    let id = record.request_id().to_string();
    let record_kind = if matches!(record, Record::Failed { .. }) {
        Kind::Failed
    } else {
        Kind::Other
    };
    match record {
        Record::Queued {
            at,
            lead_id,
            phone,
            body,
            ..
        } => {
            entries.insert(
                id.clone(),
                Entry {
                    request_id: id,
                    lead_id,
                    phone,
                    state: State::Queued,
                    queued_at: at,
                    attempts: Vec::new(),
                    last_error: None,
                    body,
                },
            );
        }
        Record::Attempt { at, n, .. } => {
            if let Some(e) = entries.get_mut(&id) {
                e.state = State::InFlight;
                e.attempts.push(AttemptLog { n, at, error: None });
            }
        }
        Record::Retry { error, .. } => {
            if let Some(e) = entries.get_mut(&id) {
                e.state = State::Queued;
                if let Some(last) = e.attempts.last_mut() {
                    last.error = Some(error.clone());
                }
                e.last_error = Some(error);
            }
        }
        Record::Unconfirmed { error, .. } | Record::Failed { error, .. } => {
            let failed = matches!(record_kind, Kind::Failed);
            if let Some(e) = entries.get_mut(&id) {
                e.state = if failed {
                    State::Failed
                } else {
                    State::Unconfirmed
                };
                if let Some(last) = e.attempts.last_mut() {
                    last.error = Some(error.clone());
                }
                e.last_error = Some(error);
            }
        }
        Record::Sent { .. }
        | Record::DryRun { .. }
        | Record::Resolved { .. }
        | Record::Deferred { .. } => {
            entries.remove(&id);
        }
        // Read by `Outbox::open` (the calling budgets); no entry changes.
        Record::Tries { .. } => {}
    }
}

pub(super) fn line(record: &Record) -> Vec<u8> {
    serde_json::to_vec(record).unwrap_or_default()
}

/// The log of the entries still `open` (oldest first): each one's `queued` record, its
/// tries, and its `unconfirmed` or `failed` mark, said again at `now`.
pub(super) fn rewrite(open: &[&Entry], now: DateTime<Utc>) -> Vec<u8> {
    let mut rewritten = Vec::new();
    for e in open {
        let queued = Record::Queued {
            request_id: e.request_id.clone(),
            at: e.queued_at,
            lead_id: e.lead_id.clone(),
            phone: e.phone.clone(),
            body: e.body.clone(),
        };
        rewritten.extend(line(&queued));
        rewritten.push(b'\n');
        for a in &e.attempts {
            let id = e.request_id.clone();
            let error = a.error.clone().unwrap_or_else(|| "interrupted".into());
            for r in [
                Record::Attempt {
                    request_id: id.clone(),
                    at: a.at,
                    n: a.n,
                },
                Record::Retry {
                    request_id: id,
                    at: a.at,
                    n: a.n,
                    error,
                },
            ] {
                rewritten.extend(line(&r));
                rewritten.push(b'\n');
            }
        }
        let why = e.last_error.clone().unwrap_or_default();
        let request_id = e.request_id.clone();
        let last = match e.state {
            State::Unconfirmed => Some(Record::Unconfirmed {
                request_id,
                at: now,
                error: why,
            }),
            State::Failed => Some(Record::Failed {
                request_id,
                at: now,
                error: why,
            }),
            State::Queued | State::InFlight => None,
        };
        if let Some(r) = last {
            rewritten.extend(line(&r));
            rewritten.push(b'\n');
        }
    }
    rewritten
}
