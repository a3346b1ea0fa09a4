//! The configured lists and the version of each in force. A load reads the operator's file
//! a line at a time (a 3 GB national file is never held in memory), builds the new set
//! beside the one in force, writes its snapshot (`DATA_DIR/lists/<name>.snapshot`, with
//! `<name>.json` holding its version, download date, source name and SHA-256s) and only then
//! swaps it in: lookups see the old version or the new one, never a mix, and a refused file
//! leaves the old one. At startup each snapshot is checked against its SHA-256; one that
//! fails stops startup for a gated list (fail closed) and is ignored, with a warning, for
//! the others.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::record::ListUse;
use super::rules::{self, Freshness, Snapshot, Verdict};
use super::set::{national, Match, NumberSet};
use crate::config::lists::ListSettings;
use crate::domain::Lead;

pub const LISTS_DIR: &str = "lists";

/// A version's record beside its snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub version: u64,
    pub downloaded_at: NaiveDate,
    pub loaded_at: DateTime<Utc>,
    /// The operator's file name.
    pub source: String,
    /// SHA-256 of the operator's file, as read.
    pub sha256: String,
    pub count: u64,
    pub prefixes: usize,
    /// SHA-256 of the snapshot file (checked at startup).
    pub snapshot_sha256: String,
}

/// How to read a load: the download date when the operator gives it, and the phone column
/// of a CSV file whose header names it otherwise.
#[derive(Debug, Clone, Default)]
pub struct Load {
    pub downloaded_at: Option<NaiveDate>,
    pub column: Option<String>,
}

pub struct Version {
    pub meta: Meta,
    pub snapshot: Snapshot,
    pub set: NumberSet,
}

pub(super) struct List {
    pub(super) settings: ListSettings,
    /// The name, shared by every trace record.
    name: Arc<str>,
    pub(super) current: ArcSwapOption<Version>,
    pub(super) loading: Mutex<()>,
}

pub struct Lists {
    pub(super) lists: Vec<List>,
    pub(super) dir: PathBuf,
    /// The service clock and business timezone (ages are counted in business dates).
    clock: crate::clock::SharedClock,
    pub(super) tz: chrono_tz::Tz,
    /// Database mode: versions shared through `list_versions` (and the runtime the
    /// blocking loaders store them on).
    pub(super) shared: Option<(crate::db::Db, tokio::runtime::Handle)>,
}

/// What a list says about a lead, with the version consulted (for the trace and the
/// journal).
#[derive(Debug, Clone)]
pub struct Consulted {
    pub record: ListUse,
    pub verdict: Verdict,
    pub kind: &'static str,
}

impl Consulted {
    /// Why this list blocks the lead, when it does.
    pub fn blocks(&self) -> Option<String> {
        match &self.verdict {
            Verdict::Hit { .. } => Some(rules::hit_reason(
                self.kind,
                &self.record.list,
                self.record.downloaded_at,
            )),
            Verdict::Closed { reason } => Some(reason.clone()),
            _ => None,
        }
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Lists {
    /// Every configured list with no version in force yet (database mode loads them from
    /// the database: [`Lists::open_db`]).
    pub(super) fn unloaded(
        data_dir: &Path,
        settings: &[ListSettings],
        clock: crate::clock::SharedClock,
        tz: chrono_tz::Tz,
    ) -> Self {
        Self {
            lists: settings
                .iter()
                .map(|s| List {
                    name: s.name.as_str().into(),
                    settings: s.clone(),
                    current: ArcSwapOption::new(None),
                    loading: Mutex::new(()),
                })
                .collect(),
            dir: data_dir.join(LISTS_DIR),
            clock,
            tz,
            shared: None,
        }
    }

    /// Loads each configured list's snapshot from `data_dir/lists`.
    pub fn open(
        data_dir: &Path,
        settings: &[ListSettings],
        clock: crate::clock::SharedClock,
        tz: chrono_tz::Tz,
    ) -> anyhow::Result<Self> {
        let dir = data_dir.join(LISTS_DIR);
        let mut lists = Vec::new();
        for s in settings {
            let current = match load_snapshot(&dir, &s.name) {
                Ok(v) => v.map(Arc::new),
                Err(e) if s.max_age_days.is_some() => {
                    anyhow::bail!(
                        "list `{}`: {e}; refusing to start without it (it is gated)",
                        s.name
                    )
                }
                Err(e) => {
                    tracing::warn!(list = %s.name, error = %e, "list snapshot unreadable; the list starts empty");
                    None
                }
            };
            if let Some(v) = &current {
                tracing::info!(list = %s.name, version = v.meta.version, count = v.meta.count, downloaded_at = %v.meta.downloaded_at, "list loaded");
            }
            lists.push(List {
                name: s.name.as_str().into(),
                settings: s.clone(),
                current: ArcSwapOption::new(current),
                loading: Mutex::new(()),
            });
        }
        Ok(Self {
            lists,
            dir,
            clock,
            tz,
            shared: None,
        })
    }

    /// No list configured.
    pub fn none() -> Self {
        Self {
            lists: Vec::new(),
            dir: PathBuf::new(),
            clock: Arc::new(crate::clock::SystemClock),
            tz: chrono_tz::UTC,
            shared: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    pub(super) fn find(&self, name: &str) -> Option<&List> {
        self.lists.iter().find(|l| l.settings.name == name)
    }

    pub fn settings(&self, name: &str) -> Option<&ListSettings> {
        self.find(name).map(|l| &l.settings)
    }

    /// Every list's answer for `lead` (in `states`, as codes), in configuration order.
    pub fn consult(
        &self,
        lead: &Lead,
        states: &[&str],
        now: DateTime<Utc>,
        today: NaiveDate,
    ) -> Vec<Consulted> {
        let number = national(lead.phone.as_str());
        self.lists
            .iter()
            .map(|l| {
                let current = l.current.load();
                let version = current.as_ref().map(|v| (&v.snapshot, &v.set));
                let verdict = rules::judge(&l.settings, version, lead, states, number, now, today);
                Consulted {
                    kind: l.settings.kind.as_str(),
                    record: ListUse::new(
                        &l.name,
                        current.as_ref().map(|v| &v.snapshot),
                        today,
                        &verdict,
                    ),
                    verdict,
                }
            })
            .collect()
    }

    /// The lists holding `e164` (any spelling parsed by the caller): (name, kind, version,
    /// prefix).
    pub fn lookup(&self, e164: &str) -> Vec<serde_json::Value> {
        let Some(number) = national(e164) else {
            return Vec::new();
        };
        self.lists
            .iter()
            .filter_map(|l| {
                let current = l.current.load();
                let v = current.as_ref()?;
                let m = v.set.lookup(number)?;
                Some(serde_json::json!({
                    "name": l.settings.name,
                    "kind": l.settings.kind.as_str(),
                    "snapshot_version": v.meta.version,
                    "prefix": match m { Match::Prefix(p) => Some(p), Match::Number => None },
                }))
            })
            .collect()
    }

    /// Every list as admins see it.
    pub fn views(&self, today: NaiveDate) -> Vec<serde_json::Value> {
        self.lists
            .iter()
            .map(|l| {
                let current = l.current.load();
                let snapshot = current.as_ref().map(|v| &v.snapshot);
                let empty = current.as_ref().is_none_or(|v| v.set.is_empty());
                // A load in progress shows as `loading`; the version in force still answers.
                let loading = l.loading.try_lock().is_err();
                let status = match (rules::freshness(&l.settings, snapshot, today), empty) {
                    _ if loading => "loading",
                    (Freshness::Stale, _) => "stale",
                    (_, true) => "empty",
                    _ => "ok",
                };
                serde_json::json!({
                    "name": l.settings.name,
                    "kind": l.settings.kind.as_str(),
                    "count": current.as_ref().map_or(0, |v| v.meta.count),
                    "prefixes": current.as_ref().map_or(0, |v| v.meta.prefixes),
                    "snapshot": current.as_ref().map(|v| serde_json::json!({
                        "version": v.meta.version,
                        "downloaded_at": v.meta.downloaded_at,
                        "loaded_at": v.meta.loaded_at,
                        "source": v.meta.source,
                        "sha256": v.meta.sha256,
                    })),
                    "age_days": snapshot.map(|s| rules::age_days(s, today)),
                    "max_age_days": l.settings.max_age_days,
                    "status": status,
                    "states": (!l.settings.states.is_empty()).then(|| l.settings.states.clone()),
                })
            })
            .collect()
    }

    /// Worst freshness across gated lists: for `/health`.
    pub fn freshness(&self, today: NaiveDate) -> Vec<(String, Freshness)> {
        self.lists
            .iter()
            .map(|l| {
                let current = l.current.load();
                // An emptied gated list is no current list.
                let in_force = current
                    .as_ref()
                    .filter(|v| !v.set.is_empty() || l.settings.max_age_days.is_none());
                let f = rules::freshness(&l.settings, in_force.map(|v| &v.snapshot), today);

                (l.settings.name.clone(), f)
            })
            .collect()
    }
}

/// Swaps `set` in as the version in force of `list` (lookups see the old one or this one).
pub(super) fn install(list: &List, meta: Meta, set: NumberSet) {
    list.current.store(Some(Arc::new(Version {
        snapshot: Snapshot {
            version: meta.version,
            downloaded_at: meta.downloaded_at,
        },
        meta,
        set,
    })));
}

/// Reads and checks a list's snapshot; `None` when it was never loaded.
fn load_snapshot(dir: &Path, name: &str) -> Result<Option<Version>, String> {
    let meta_path = dir.join(format!("{name}.json"));
    let meta: Meta = match std::fs::read(&meta_path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", meta_path.display()))?
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", meta_path.display())),
    };
    let path = dir.join(format!("{name}.snapshot"));
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if hex(&Sha256::digest(&bytes)) != meta.snapshot_sha256 {
        return Err(format!("{}: fails its checksum", path.display()));
    }
    let set =
        NumberSet::read_from(bytes.as_slice()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(Version {
        snapshot: Snapshot {
            version: meta.version,
            downloaded_at: meta.downloaded_at,
        },
        meta,
        set,
    }))
}

impl crate::health::HealthSource for Lists {
    fn name(&self) -> &'static str {
        "lists"
    }

    /// `degraded` within five days of a gate closing, `unhealthy` once one is closed (its
    /// list blocks every lead it covers). Each list is named with its status, the age of
    /// its version in force and the days left before its gate closes, so the operator sees
    /// which list to load.
    fn report(&self) -> crate::health::ComponentReport {
        use crate::health::{ComponentReport, HealthStatus};
        let today = crate::clock::business_date(self.clock.now(), self.tz);
        let mut status = HealthStatus::Ok;
        let mut closed = Vec::new();
        let mut lists = Vec::with_capacity(self.lists.len());
        for (l, (name, f)) in self.lists.iter().zip(self.freshness(today)) {
            let current = l.current.load();
            let snapshot = current.as_ref().map(|v| &v.snapshot);
            let age = snapshot.map(|s| rules::age_days(s, today));
            let days_left = l
                .settings
                .max_age_days
                .zip(age)
                .map(|(max, age)| i64::from(max) - age);
            let (this, word) = match f {
                Freshness::Ok => (HealthStatus::Ok, "ok"),
                Freshness::Soon { .. } => (HealthStatus::Degraded, "closes_soon"),
                Freshness::Stale if snapshot.is_none() => (HealthStatus::Unhealthy, "never_loaded"),
                Freshness::Stale if current.as_ref().is_some_and(|v| v.set.is_empty()) => {
                    (HealthStatus::Unhealthy, "empty")
                }
                Freshness::Stale => (HealthStatus::Unhealthy, "stale"),
            };
            status = status.max(this);
            if this == HealthStatus::Unhealthy {
                closed.push(format!("{name} ({})", word.replace('_', " ")));
            }
            lists.push(serde_json::json!({
                "name": name,
                "kind": l.settings.kind.as_str(),
                "status": word,
                "version": current.as_ref().map(|v| v.meta.version),
                "downloaded_at": snapshot.map(|s| s.downloaded_at),
                "age_days": age,
                "max_age_days": l.settings.max_age_days,
                "days_left": days_left,
            }));
        }
        let mut report = ComponentReport::new(status).with("lists", lists);
        if !closed.is_empty() {
            report = report.with(
                "error",
                format!(
                    "gate closed, every lead they cover is blocked until a current version is loaded: {}",
                    closed.join(", ")
                ),
            );
        }
        report
    }
}
