//! What `callgate migrate` brought over from the Node version's number pool, kept as the
//! config document [`FILE`] (so `migrate --to-database` copies it like the others): the
//! calls its numbers placed with their outcomes, and which number last reached each lead.
//!
//! At startup the imported calls still inside the pool's window join the pool's calls
//! ([`super::store::PoolCalls::seed`], once: each has an id derived from its Node record),
//! so they count against the caps and feed the pickup rates, streaks and cooldowns like
//! our own (Node's `cooldown_until` is not carried: the streak it came from is). The
//! mappings extend the sticky tier: a lead that no pool call reached in the window goes
//! to the number Node last reached it from, for [`MAPPING_DAYS`] after that call (Node's
//! mapping expiry).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::select::UsedCall;
use crate::journal::Outcome;

/// The document's name.
pub const FILE: &str = "caller-id-import.json";
/// How long an imported mapping keeps its lead on its number.
pub const MAPPING_DAYS: i64 = 30;

/// The imported history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Imported {
    #[serde(default)]
    pub calls: Vec<ImportedCall>,
    /// A lead's number (E.164) → the pool number that last reached it.
    #[serde(default)]
    pub reached: BTreeMap<String, Reached>,
}

/// One call a Node pool number placed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportedCall {
    /// `node-pool:<number>:<unix ms>:<phone>`.
    pub id: String,
    pub number: String,
    pub phone: String,
    pub at: DateTime<Utc>,
    /// Node recorded a call when its outcome came, so the outcome's instant is `at`.
    pub outcome: Option<Outcome>,
}

/// The pool number that last reached a lead, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reached {
    pub number: String,
    pub at: DateTime<Utc>,
}

/// What a merge added.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Merged {
    pub calls_added: usize,
    pub calls_already: usize,
    pub mappings_added: usize,
}

impl Imported {
    /// The imported calls at or after `since`, as the pool counts them.
    pub fn used_calls(&self, since: DateTime<Utc>) -> Vec<UsedCall> {
        self.calls
            .iter()
            .filter(|c| c.at >= since)
            .map(|c| UsedCall {
                request_id: c.id.clone(),
                number: c.number.clone(),
                phone: c.phone.clone(),
                at: c.at,
                outcome: c.outcome.map(|o| (o, c.at)),
            })
            .collect()
    }

    /// The number Node last reached `phone` from, if that is recent enough.
    pub fn reached(&self, phone: &str, now: DateTime<Utc>) -> Option<&str> {
        self.reached
            .get(phone)
            .filter(|r| now - r.at <= Duration::days(MAPPING_DAYS))
            .map(|r| r.number.as_str())
    }

    /// Adds `other`'s calls not yet here (by id) and its newer mappings.
    pub fn merge(&mut self, other: Imported) -> Merged {
        let mut m = Merged::default();
        let known: std::collections::HashSet<String> =
            self.calls.iter().map(|c| c.id.clone()).collect();
        for c in other.calls {
            if known.contains(&c.id) {
                m.calls_already += 1;
            } else {
                m.calls_added += 1;
                self.calls.push(c);
            }
        }
        self.calls
            .sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
        self.calls.dedup_by(|a, b| a.id == b.id);
        for (phone, r) in other.reached {
            match self.reached.get(&phone) {
                Some(old) if old.at >= r.at => {}
                _ => {
                    m.mappings_added += 1;
                    self.reached.insert(phone, r);
                }
            }
        }
        m
    }
}

/// Reads what `callgate migrate` imported from the Node pool, seeds the calls still in
/// the window into `calls` and answers the mappings (the calls dropped: they are stored).
pub(super) async fn seed(
    docs: &dyn crate::store::doc_store::DocumentStore,
    calls: &dyn super::store::PoolCalls,
    window_hours: u32,
    now: DateTime<Utc>,
) -> anyhow::Result<Imported> {
    let Some(stored) = docs.read(FILE).await? else {
        return Ok(Imported::default());
    };
    let mut imported: Imported = serde_json::from_value(stored.body)
        .map_err(|e| anyhow::anyhow!("{}: {e}", docs.describe(FILE)))?;
    let since = now - Duration::hours(i64::from(window_hours)).max(Duration::days(2));
    let seeds = imported.used_calls(since);
    let added = calls.seed(&seeds).await?;
    tracing::info!(
        calls = seeds.len(),
        added,
        mappings = imported.reached.len(),
        "the Node pool's calls in the window and its lead mappings are in the caller-ID pool"
    );
    imported.calls = Vec::new();
    Ok(imported)
}
