//! The configured lists and the version of each in force. A load reads the operator's file
//! a line at a time (a 3 GB national file is never held in memory), builds the new set
//! beside the one in force, writes its snapshot (`DATA_DIR/lists/<name>.snapshot`, with
//! `<name>.json` holding its version, download date, source name and SHA-256s) and only then
//! swaps it in: lookups see the old version or the new one, never a mix, and a refused file
//! leaves the old one. At startup each snapshot is checked against its SHA-256; one that
//! fails stops startup for a gated list (fail closed) and is ignored, with a warning, for
//! the others.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::record::ListUse;
use super::rules::{self, Snapshot, Verdict};
use super::set::{national, Match, NumberSet};
use super::versions::{FileVersions, ListVersions};
use crate::config::lists::ListSettings;
use crate::domain::Lead;

pub const LISTS_DIR: &str = "lists";

/// How often an instance looks for a newer version loaded elsewhere.
pub const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

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
    pub(super) clock: crate::clock::SharedClock,
    pub(super) tz: chrono_tz::Tz,
    /// Where the versions are kept (files, or rows shared by every instance).
    pub(super) versions: Arc<dyn ListVersions>,
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
    /// Loads each configured list's newest version from `versions` (blocking: off the
    /// async threads, see [`Lists::load`]), checking its snapshot against its SHA-256. One that
    /// cannot be read stops startup for a gated list (fail closed) and leaves any other
    /// list empty, with a warning. `data_dir/lists` is the loaders' scratch space.
    pub fn open(
        data_dir: &Path,
        settings: &[ListSettings],
        clock: crate::clock::SharedClock,
        tz: chrono_tz::Tz,
        versions: Arc<dyn ListVersions>,
    ) -> anyhow::Result<Self> {
        let lists = Self {
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
            versions,
        };
        for (name, e) in lists.adopt() {
            if lists
                .settings(&name)
                .is_some_and(|s| s.max_age_days.is_some())
            {
                anyhow::bail!("list `{name}`: {e}; refusing to start without it (it is gated)");
            }
            tracing::warn!(list = %name, error = %e, "list snapshot unreadable; the list starts empty");
        }
        Ok(lists)
    }

    /// [`Lists::open`] on the blocking pool (the database's versions block on the runtime).
    pub async fn load(
        data_dir: &Path,
        settings: &[ListSettings],
        clock: crate::clock::SharedClock,
        tz: chrono_tz::Tz,
        versions: Arc<dyn ListVersions>,
    ) -> anyhow::Result<Self> {
        let (dir, settings) = (data_dir.to_path_buf(), settings.to_vec());
        tokio::task::spawn_blocking(move || Self::open(&dir, &settings, clock, tz, versions))
            .await?
    }

    /// Installs every stored version newer than the one in force here (with several
    /// instances, another's load); returns the lists whose stored version could not be
    /// read (the version in force stays).
    pub(super) fn adopt(&self) -> Vec<(String, String)> {
        let mut failed = Vec::new();
        for l in &self.lists {
            let name = &l.settings.name;
            let ours = l.current.load().as_ref().map_or(0, |v| v.meta.version);
            match self.versions.latest(name) {
                Ok(v) if v > ours => {}
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(list = %name, error = %e, "cannot read the list's newest version");
                    failed.push((name.clone(), e.to_string()));
                    continue;
                }
            }
            let read = self.versions.read(name).map_err(|e| e.to_string());
            match read.and_then(|found| {
                let (meta, bytes) = found.ok_or("the stored version went away")?;
                let set = verify(&meta, &bytes, &self.versions.describe(name))
                    .map_err(|e| e.to_string())?;
                Ok((meta, set))
            }) {
                Ok((meta, set)) => {
                    tracing::info!(list = %name, version = meta.version, count = meta.count, downloaded_at = %meta.downloaded_at, "list loaded");
                    install(l, meta, set);
                }
                Err(e) => failed.push((name.clone(), e)),
            }
        }
        failed
    }

    /// Follows the loads made elsewhere (other instances sharing the database) until
    /// `shutdown`, looking every [`FOLLOW_EVERY`]; a version that cannot be read is logged
    /// and the one in force stays.
    pub async fn follow(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        if self.lists.is_empty() {
            return;
        }
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(FOLLOW_EVERY) => {}
            }
            let this = self.clone();
            if let Ok(failed) = tokio::task::spawn_blocking(move || this.adopt()).await {
                for (name, e) in failed {
                    tracing::error!(list = %name, error = %e, "a list version cannot be read; the version in force stays");
                }
            }
        }
    }

    /// No list configured.
    pub fn none() -> Self {
        Self {
            lists: Vec::new(),
            dir: PathBuf::new(),
            clock: Arc::new(crate::clock::SystemClock),
            tz: chrono_tz::UTC,
            versions: Arc::new(FileVersions::new(Path::new(""))),
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

/// Why a stored version cannot be put in force; `at` names where it is kept.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{at}: fails its checksum")]
    Checksum { at: String },
    #[error("{at}: {source}")]
    Unreadable {
        at: String,
        #[source]
        source: std::io::Error,
    },
}

/// The set a stored version holds, once its bytes match the record's SHA-256.
fn verify(meta: &Meta, bytes: &[u8], at: &str) -> Result<NumberSet, SnapshotError> {
    let at = at.to_string();
    if hex(&Sha256::digest(bytes)) != meta.snapshot_sha256 {
        return Err(SnapshotError::Checksum { at });
    }
    NumberSet::read_from(bytes).map_err(|source| SnapshotError::Unreadable { at, source })
}
