//! `callgate migrate --from DIR`: imports a Node orchestrator's data directory — its
//! `blocklist-config.json` (phone values normalised, ids and timestamps kept, duplicates
//! merged) and its `blocklist-attempts/attempts_*.json` arrays (converted to our JSONL).
//! Running it twice imports nothing twice: flags are matched by id and by value, attempts
//! by (timestamp, flag_id, lead_id, value). [`queue`] brings over the Node scheduler's
//! config, its queued leads and its protection settings.

mod queue;
pub mod to_database;

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use serde_json::Value;

use crate::blocklist::flag::{new_flag_id, value_string};
use crate::blocklist::{Blocklist, FlagRecord};
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::journal::records::Attempt;
use crate::journal::retention::file_date;
use crate::journal::{attempts_path, read_day, ATTEMPTS_DIR};
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
        Ok(())
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(value_string)
        .map(|s| s.into_owned())
        .filter(|s| !s.is_empty())
}

fn attempt_key(timestamp: &str, v: &Value) -> String {
    let part = |k: &str| text(v.get(k)).unwrap_or_default();
    format!(
        "{timestamp}|{}|{}|{}",
        part("flag_id"),
        part("lead_id"),
        part("value")
    )
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
        let doc: Value = serde_json::from_slice(&std::fs::read(&config)?)
            .with_context(|| format!("{}: not valid JSON", config.display()))?;
        let items = doc
            .get("flags")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let now = chrono::Utc::now().timestamp_millis();
        let mut flags = Vec::new();
        for (n, item) in items.into_iter().enumerate() {
            let shown = item
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let parsed = serde_json::from_value::<FlagRecord>(item)
                .map_err(|e| e.to_string())
                .and_then(|r| {
                    r.into_flag(&settings.default_country, now, || new_flag_id(now))
                        .map_err(|e| e.to_string())
                });
            match parsed {
                Ok(flag) => flags.push(flag),
                Err(e) => report
                    .flags_invalid
                    .push(format!("#{} (id `{shown}`): {e}", n + 1)),
            }
        }
        let (added, same_id, merged) = blocklist.import_kept(flags).await?;
        report.flags_added = added;
        report.flags_already_imported = same_id;
        report.flags_merged_duplicates = merged;
        let folding = blocklist.clone();
        tokio::task::spawn_blocking(move || folding.compact()).await??;
    }

    let attempts_dir = from.join(ATTEMPTS_DIR);
    if attempts_dir.is_dir() {
        std::fs::create_dir_all(settings.data_dir.join(ATTEMPTS_DIR))?;
        let mut files: Vec<_> = std::fs::read_dir(&attempts_dir)?
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for path in files {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let Some(date) = name.strip_suffix(".json").and_then(|_| file_date(&name)) else {
                continue;
            };
            report.attempt_files += 1;
            let doc: Value = match std::fs::read(&path).map(|b| serde_json::from_slice(&b)) {
                Ok(Ok(v)) => v,
                _ => {
                    report.attempts_invalid += 1;
                    continue;
                }
            };
            let items = match doc {
                Value::Array(items) => items,
                Value::Object(mut o) => o
                    .remove("attempts")
                    .and_then(|a| a.as_array().cloned())
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            let target = attempts_path(&settings.data_dir, date);
            let existing: HashSet<String> = read_day(&target, None)?
                .records
                .iter()
                .filter_map(|r| {
                    r.get("timestamp")
                        .and_then(Value::as_str)
                        .map(|t| attempt_key(t, r))
                })
                .collect();
            let mut out = Vec::new();
            for item in items {
                let Some(timestamp) = item.get("timestamp").and_then(Value::as_str) else {
                    report.attempts_invalid += 1;
                    continue;
                };
                let Ok(at) = chrono::DateTime::parse_from_rfc3339(timestamp) else {
                    report.attempts_invalid += 1;
                    continue;
                };
                let at = at.with_timezone(&chrono::Utc);
                let record = Attempt {
                    timestamp: at,
                    field: text(item.get("field")).unwrap_or_default(),
                    value: text(item.get("value")).unwrap_or_default(),
                    lead_id: text(item.get("lead_id")),
                    phone: text(item.get("phone")),
                    blocked: item.get("blocked").and_then(Value::as_bool).unwrap_or(true),
                    reason: text(item.get("reason")).unwrap_or_default(),
                    flag_id: text(item.get("flag_id")),
                    request_id: text(item.get("request_id")),
                    stage: "blocklist".into(),
                    source: "flag".into(),
                    flag_reason: None,
                    list: None,
                    list_version: None,
                };
                let line = serde_json::to_value(&record)?;
                let key = attempt_key(line["timestamp"].as_str().unwrap_or_default(), &line);
                if existing.contains(&key) {
                    report.attempts_already_imported += 1;
                    continue;
                }
                serde_json::to_writer(&mut out, &line)?;
                out.push(b'\n');
                report.attempts_added += 1;
            }
            if !out.is_empty() {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&target)?;
                file.write_all(&out)?;
                file.sync_all()?;
            }
        }
    }
    queue::import(settings, from, &mut report).await?;
    Ok(report)
}
