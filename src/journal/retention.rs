//! Retention: daily journal files older than `RETENTION_DAYS` are removed (0 keeps all).

use std::io;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::{ATTEMPTS_DIR, CALLS_DIR};

/// The date in a daily file name such as `attempts_2026-11-23.jsonl`.
/// Day summaries (`….jsonl.summary`) carry their journal's date.
pub fn file_date(name: &str) -> Option<NaiveDate> {
    let name = name.strip_suffix(".summary").unwrap_or(name);
    let stem = name
        .strip_suffix(".jsonl")
        .or_else(|| name.strip_suffix(".json"))?;
    let (_, date) = stem.rsplit_once('_')?;
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
}

/// The oldest business date `retention_days` keeps on `today`; `None` keeps everything.
pub fn oldest_kept(today: NaiveDate, retention_days: u32) -> Option<NaiveDate> {
    if retention_days == 0 {
        return None;
    }
    today.checked_sub_days(chrono::Days::new(u64::from(retention_days)))
}

/// Removes daily files dated before `today - retention_days`; returns what was removed.
pub fn purge(data_dir: &Path, today: NaiveDate, retention_days: u32) -> io::Result<Vec<PathBuf>> {
    match oldest_kept(today, retention_days) {
        Some(oldest) => purge_before(data_dir, oldest),
        None => Ok(Vec::new()),
    }
}

/// Removes daily files (and their summaries) dated before `oldest_kept`.
pub fn purge_before(data_dir: &Path, oldest_kept: NaiveDate) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for sub in [ATTEMPTS_DIR, CALLS_DIR] {
        let dir = data_dir.join(sub);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if file_date(&name).is_some_and(|d| d < oldest_kept) {
                std::fs::remove_file(entry.path())?;
                removed.push(entry.path());
            }
        }
    }
    if !removed.is_empty() {
        tracing::info!(
            files = removed.len(),
            %oldest_kept,
            "removed journal files past retention"
        );
    }
    Ok(removed)
}
