//! The Node scheduler's state: `scheduler-config.json` (days, one start/end, blackout
//! dates), `request-queue.json` (leads queued outside hours, which the Node version lost on
//! a crash and released only by hand) and `call-protection-config.json`.
//!
//! - Our config documents are written only if we have none yet (an operator's later edits
//!   are never overwritten); a re-run reports `kept ours`.
//! - Node's end time matched the whole minute (`17:00` allowed 17:00:59); ours is exclusive,
//!   so `17:00` stops at 16:59:59, a minute more careful.
//! - Queued leads go into the deferred queue, due now: the release task runs each through
//!   the whole pipeline, so none is dialled outside its window. One entry per lead id +
//!   number, so a re-run adds nothing twice. Their age counts from the import.

use std::path::Path;

use chrono::Utc;
use serde_json::{json, Map, Value};

use super::Report;
use crate::config::Settings;
use crate::domain::Lead;
use crate::schedule::queue::{Deferral, DeferredQueue};
use crate::schedule::window::WEEKDAYS;
use crate::schedule::Scheduler;
use crate::tracker::Tracker;

fn read(path: &Path) -> anyhow::Result<Option<Value>> {
    if !path.exists() {
        return Ok(None);
    }
    let bytes = std::fs::read(path)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("{}: not valid JSON: {e}", path.display()))
}

/// Node's `{enabled, timezone, schedule: {days: [0-6, Sun=0], startTime, endTime},
/// blackoutDates}` as a change to our document.
fn scheduler_patch(node: &Value) -> Value {
    let mut patch = Map::new();
    if let Some(e) = node.get("enabled").and_then(Value::as_bool) {
        patch.insert("enabled".into(), e.into());
    }
    if let Some(tz) = node.get("timezone").and_then(Value::as_str) {
        patch.insert("timezone".into(), tz.into());
    }
    let schedule = node.get("schedule");
    let field = |k: &str| schedule.and_then(|s| s.get(k)).and_then(Value::as_str);
    if let (Some(start), Some(end)) = (field("startTime"), field("endTime")) {
        let days: Vec<u64> = schedule
            .and_then(|s| s.get("days"))
            .and_then(Value::as_array)
            .map(|d| d.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let hours: Map<String, Value> = WEEKDAYS
            .iter()
            .enumerate()
            .map(|(i, name)| {
                // Ours is Monday-first; Node's is Sunday = 0. Empty `days` meant every day.
                let node_day = (i as u64 + 1) % 7;
                let open = days.is_empty() || days.contains(&node_day);
                let window = open.then(|| json!({"start": start, "end": end}));
                (name.to_string(), window.unwrap_or(Value::Null))
            })
            .collect();
        patch.insert("hours".into(), hours.into());
    }
    if let Some(dates) = node.get("blackoutDates").filter(|d| d.is_array()) {
        patch.insert("blackout_dates".into(), dates.clone());
    }
    patch.into()
}

fn protection_patch(node: &Value) -> Value {
    let mut patch = Map::new();
    for (ours, theirs) in [
        ("enabled", "enabled"),
        ("duplicate_window_minutes", "duplicate_window_minutes"),
        (
            "max_daily_attempts_per_number",
            "max_daily_attempts_per_number",
        ),
    ] {
        if let Some(v) = node.get(theirs) {
            patch.insert(ours.into(), v.clone());
        }
    }
    patch.into()
}

/// The data directory's config documents (the import writes files; `--to-database`
/// copies them on).
fn files(data: &Path) -> std::sync::Arc<dyn crate::store::doc_store::DocumentStore> {
    std::sync::Arc::new(crate::store::doc_store::FileDocuments::new(data))
}

pub async fn import(settings: &Settings, from: &Path, report: &mut Report) -> anyhow::Result<()> {
    let data = &settings.data_dir;
    report.scheduler_config = "none";
    if let Some(node) = read(&from.join("scheduler-config.json"))? {
        report.scheduler_config = "kept ours";
        if !data.join(crate::schedule::config::CONFIG_FILE).exists() {
            let s = Scheduler::open(data, settings.timezone, vec![], files(data)).await?;
            s.config
                .update(&scheduler_patch(&node))
                .await
                .map_err(|e| anyhow::anyhow!("scheduler-config.json: {e}"))?;
            report.scheduler_config = "imported";
        }
    }
    report.protection_config = "none";
    if let Some(node) = read(&from.join("call-protection-config.json"))? {
        report.protection_config = "kept ours";
        if !data.join(crate::tracker::config::PROTECTION_FILE).exists() {
            let t = Tracker::open(settings.timezone, files(data)).await?;
            t.protection
                .update(&protection_patch(&node))
                .await
                .map_err(|e| anyhow::anyhow!("call-protection-config.json: {e}"))?;
            report.protection_config = "imported";
        }
    }
    let Some(Value::Array(items)) = read(&from.join("request-queue.json"))? else {
        return Ok(());
    };
    let (queue, _) = DeferredQueue::open(data, &crate::store::quarantine::Quarantine::open(data)?)?;
    let now = Utc::now();
    let mut writes = Vec::new();
    for (n, item) in items.into_iter().enumerate() {
        let id = item
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let Some(fields) = item.get("payload").and_then(Value::as_object).cloned() else {
            report
                .queued_invalid
                .push(format!("#{} (`{id}`): no payload object", n + 1));
            continue;
        };
        match Lead::parse(fields, &settings.lead_fields, &settings.default_country) {
            Ok(lead) => {
                let request_id = if id.is_empty() {
                    format!("node-queue-{n}")
                } else {
                    id
                };
                let (_, pending) = queue.defer(Deferral {
                    lead: &lead,
                    request_id: &request_id,
                    now,
                    release_at: now,
                    stage: "schedule",
                    reason: "imported from the Node request queue",
                });
                writes.push(pending);
                report.queued_imported += 1;
            }
            Err(errors) => {
                report
                    .queued_invalid
                    .push(format!("#{} (`{id}`): {}", n + 1, errors.join("; ")))
            }
        }
    }
    for w in writes {
        w.wait().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_days_and_hours_become_our_weekly_hours() {
        let node = json!({"enabled": true, "timezone": "America/Chicago",
            "schedule": {"days": [1, 2, 3, 4, 5, 6], "startTime": "08:30", "endTime": "18:00"},
            "blackoutDates": ["2026-12-25"]});
        let p = scheduler_patch(&node);
        assert_eq!(p["timezone"], "America/Chicago");
        assert_eq!(p["hours"]["mon"], json!({"start": "08:30", "end": "18:00"}));
        assert_eq!(p["hours"]["sat"]["start"], "08:30");
        assert_eq!(p["hours"]["sun"], Value::Null);
        assert_eq!(p["blackout_dates"], json!(["2026-12-25"]));
    }
}
