//! `callgate check FILE|-`: the pipeline's answer for a lead, offline, with no side
//! effects: the checks over the data directory's documents, flags, lists and feeds.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::blocklist::Blocklist;
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;

/// The pipeline's answer for the lead in `file` (`-`: standard input) at `at` (else the
/// input's `at`, else now). The input is the webhook's fields, or
/// `{"lead": {...}, "at": "..."}`; `--at` wins.
pub async fn check(settings: &Settings, file: &str, at: Option<&str>) -> anyhow::Result<Value> {
    let (fields, at) = read_input(file, at)?;
    let lead = crate::domain::Lead::parse(fields, &settings.lead_fields, &settings.default_country)
        .map_err(|errors| anyhow::anyhow!("invalid lead: {}", errors.join("; ")))?;
    let eval = offline_pipeline(settings).await?.evaluate(&lead, at);
    Ok(json!({
        "decision": eval.decision,
        "stage": eval.stage,
        "reason": eval.reason,
        "release_at": eval.release_at,
        "flag_id": eval.flag_id(),
        "at": at,
        "trace": eval.trace,
    }))
}

/// The lead's fields and the instant to decide at.
fn read_input(file: &str, at: Option<&str>) -> anyhow::Result<(Map<String, Value>, DateTime<Utc>)> {
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?
    };
    let doc: Value = serde_json::from_str(&text).context("the input is not JSON")?;
    let (fields, doc_at) = match doc.get("lead").and_then(Value::as_object) {
        Some(lead) => (
            lead.clone(),
            doc.get("at").and_then(Value::as_str).map(str::to_string),
        ),
        None => (
            doc.as_object()
                .cloned()
                .context("the input must be a JSON object")?,
            None,
        ),
    };
    let at = match at.map(str::to_string).or(doc_at) {
        Some(t) => chrono::DateTime::parse_from_rfc3339(&t)
            .with_context(|| format!("--at `{t}` is not an RFC 3339 instant"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    Ok((fields, at))
}

/// The standard pipeline over the data directory, read only.
async fn offline_pipeline(settings: &Settings) -> anyhow::Result<Pipeline> {
    let flags = Blocklist::open_read_only(
        &settings.data_dir,
        &settings.default_country,
        Arc::new(SystemClock),
    )?;
    let feeds = crate::feeds::Feeds::open(
        &settings.feeds,
        &settings.content,
        &settings.default_country,
        Arc::new(SystemClock),
        Arc::new(Metrics::new()),
        Arc::new(crate::feeds::copies::FileCopies::new(&settings.data_dir)),
        Arc::new(crate::store::lease::OneProcess),
    )
    .await;
    let docs: Arc<dyn crate::store::doc_store::DocumentStore> = Arc::new(
        crate::store::doc_store::FileDocuments::new(&settings.data_dir),
    );
    let scheduler = crate::schedule::Scheduler::open(
        &settings.data_dir,
        settings.timezone,
        settings.lead_fields.state.clone(),
        docs.clone(),
    )
    .await?;
    let tracker = crate::tracker::Tracker::open(settings.timezone, docs).await?;
    tracker.rebuild(
        &settings.data_dir,
        chrono::Utc::now(),
        &crate::store::quarantine::Quarantine::in_memory(),
    )?;
    let lists = crate::lists::Lists::open(
        &settings.data_dir,
        &settings.lists,
        Arc::new(SystemClock),
        settings.timezone,
        Arc::new(crate::lists::versions::FileVersions::in_data_dir(
            &settings.data_dir,
        )),
    )?;
    Ok(crate::pipeline::standard(
        Arc::new(scheduler),
        Arc::new(tracker),
        Arc::new(flags),
        Arc::new(lists),
        Arc::new(feeds),
        &settings.bland,
        settings.timezone,
    ))
}
