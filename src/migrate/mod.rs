//! `callgate migrate --from DIR`: imports a Node orchestrator's data directory — its
//! `blocklist-config.json` (phone values normalised, ids and timestamps kept, duplicates
//! merged) and its `blocklist-attempts/attempts_*.json` arrays (converted to our JSONL).
//! Running it twice imports nothing twice: flags are matched by id and by value, attempts
//! by (timestamp, flag_id, lead_id, value). [`queue`] brings over the Node scheduler's
//! config, its queued leads and its protection settings; [`pool`] its number pool's calls
//! and lead mappings.

mod attempts;
mod flags;
mod pool;
mod queue;
pub mod to_database;

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::blocklist::flag::value_string;
use crate::blocklist::Blocklist;
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::store::DataDirLock;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub flags_added: usize,
    pub flags_already_imported: usize,
    pub flags_merged_duplicates: usize,
    pub flags_invalid: Vec<String>,
    pub attempt_files: usize,
    pub attempts_added: usize,
    pub attempts_already_imported: usize,
    pub attempts_invalid: usize,
    /// `imported`, `kept ours` or `none` for the two config documents.
    pub scheduler_config: &'static str,
    pub protection_config: &'static str,
    pub queued_imported: usize,
    pub queued_invalid: Vec<String>,
    /// The number pool's files, when there were any.
    pub pool: Option<PoolReport>,
}

/// What the number pool's import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PoolReport {
    pub calls_added: usize,
    pub calls_already: usize,
    pub calls_invalid: usize,
    pub mappings_added: usize,
    pub mappings_invalid: usize,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "flags: {} imported, {} already imported, {} merged as duplicates, {} invalid",
            self.flags_added,
            self.flags_already_imported,
            self.flags_merged_duplicates,
            self.flags_invalid.len()
        )?;
        for why in &self.flags_invalid {
            writeln!(f, "  skipped flag: {why}")?;
        }
        writeln!(
            f,
            "attempts: {} files, {} imported, {} already imported, {} invalid",
            self.attempt_files,
            self.attempts_added,
            self.attempts_already_imported,
            self.attempts_invalid
        )?;
        writeln!(
            f,
            "scheduler config: {}; protection config: {}",
            self.scheduler_config, self.protection_config
        )?;
        write!(
            f,
            "queued leads: {} in the deferred queue (due now), {} invalid",
            self.queued_imported,
            self.queued_invalid.len()
        )?;
        for why in &self.queued_invalid {
            write!(f, "\n  skipped queued lead: {why}")?;
        }
        if let Some(p) = &self.pool {
            write!(
                f,
                "\nnumber pool: {} calls imported, {} already imported, {} invalid; {} lead mappings imported, {} invalid",
                p.calls_added, p.calls_already, p.calls_invalid, p.mappings_added, p.mappings_invalid
            )?;
        }
        Ok(())
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(value_string)
        .map(|s| s.into_owned())
        .filter(|s| !s.is_empty())
}

/// Runs the migration into `settings.data_dir` (taking its lock).
pub async fn migrate(settings: &Settings, from: &Path) -> anyhow::Result<Report> {
    anyhow::ensure!(from.is_dir(), "--from {}: not a directory", from.display());
    let _lock = DataDirLock::acquire(&settings.data_dir)?;
    let blocklist = Arc::new(Blocklist::open(
        &settings.data_dir,
        &settings.default_country,
        usize::MAX,
        Arc::new(SystemClock),
        Arc::new(Metrics::new()),
    )?);
    let mut report = Report::default();
    let config = from.join("blocklist-config.json");
    if config.exists() {
        flags::import(settings, &blocklist, &config, &mut report).await?;
    }
    attempts::import(settings, from, &mut report)?;
    queue::import(settings, from, &mut report).await?;
    pool::import(settings, from, &mut report).await?;
    Ok(report)
}
