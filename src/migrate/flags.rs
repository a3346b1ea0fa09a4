//! The Node `blocklist-config.json`: phone values normalised, ids and timestamps kept,
//! duplicates merged, flags matched by id and by value so a second run adds nothing.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use serde_json::Value;

use super::Report;
use crate::blocklist::flag::new_flag_id;
use crate::blocklist::{Blocklist, FlagRecord};
use crate::config::Settings;

/// Imports the flags of `config` into `blocklist` and folds them into its document.
pub(super) async fn import(
    settings: &Settings,
    blocklist: &Arc<Blocklist>,
    config: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let doc: Value = serde_json::from_slice(&std::fs::read(config)?)
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
    Ok(())
}
