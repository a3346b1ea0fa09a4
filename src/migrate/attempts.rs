//! The Node `blocklist-attempts/attempts_*.json` arrays, converted to our JSONL; an
//! attempt already imported (same timestamp, flag id, lead id and value) is skipped.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use serde_json::Value;

use super::{text, Report};
use crate::config::Settings;
use crate::journal::records::Attempt;
use crate::journal::retention::file_date;
use crate::journal::{attempts_path, read_day, ATTEMPTS_DIR};

fn attempt_key(timestamp: &str, v: &Value) -> String {
    let part = |k: &str| text(v.get(k)).unwrap_or_default();
    format!(
        "{timestamp}|{}|{}|{}",
        part("flag_id"),
        part("lead_id"),
        part("value")
    )
}

/// Imports every `attempts_DATE.json` under `from`.
pub(super) fn import(settings: &Settings, from: &Path, report: &mut Report) -> anyhow::Result<()> {
    let attempts_dir = from.join(ATTEMPTS_DIR);
    if !attempts_dir.is_dir() {
        return Ok(());
    }
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
        import_day(&attempts_path(&settings.data_dir, date), items, report)?;
    }
    Ok(())
}

/// Appends to `target` (synced) each of `items` it does not hold yet.
fn import_day(target: &Path, items: Vec<Value>, report: &mut Report) -> anyhow::Result<()> {
    let existing: HashSet<String> = read_day(target, None)?
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
        let Some(record) = attempt_of(&item) else {
            report.attempts_invalid += 1;
            continue;
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
            .open(target)?;
        file.write_all(&out)?;
        file.sync_all()?;
    }
    Ok(())
}

/// A Node attempt as ours; `None` without a readable RFC 3339 `timestamp`.
fn attempt_of(item: &Value) -> Option<Attempt> {
    let timestamp = item.get("timestamp").and_then(Value::as_str)?;
    let at = chrono::DateTime::parse_from_rfc3339(timestamp).ok()?;
    Some(Attempt {
        timestamp: at.with_timezone(&chrono::Utc),
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
    })
}
