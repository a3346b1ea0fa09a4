//! The pipeline statistics as CSV: a header, one row per day, then a `total` row.

use super::{CallsDay, PipelineStatistics};

const CSV_HEADER: [&str; 35] = [
    "date",
    "leads_received",
    "accepted",
    "deferred",
    "blocked_schedule",
    "blocked_answering_machine",
    "blocked_protection",
    "blocked_blocklist",
    "rejected",
    "expired",
    "deleted",
    "dispatched",
    "dry_run",
    "dispatch_failures",
    "unconfirmed",
    "requeued",
    "held_for_capacity",
    "human",
    "voicemail",
    "no_answer",
    "busy",
    "transferred",
    "failed",
    "answered",
    "redials_scheduled",
    "redials_placed",
    "redials_exhausted",
    "unmatched",
    "texts_scheduled",
    "texts_sent",
    "texts_blocked",
    "texts_failed",
    "replies",
    "opt_outs",
    "callbacks",
];

fn csv_row(label: &str, d: &CallsDay) -> Vec<String> {
    let b = |s: &str| d.blocked.get(s).copied().unwrap_or(0).to_string();
    let o = |s: &str| d.outcomes.get(s).copied().unwrap_or(0).to_string();
    vec![
        label.to_string(),
        d.leads_received.to_string(),
        d.accepted.to_string(),
        d.deferred.to_string(),
        b("schedule"),
        b("answering_machine"),
        b("protection"),
        b("blocklist"),
        d.rejected.to_string(),
        d.expired.to_string(),
        d.deleted.to_string(),
        d.dispatched.to_string(),
        d.dry_run.to_string(),
        d.dispatch_failures.to_string(),
        d.unconfirmed.to_string(),
        d.requeued.to_string(),
        d.held_for_capacity.to_string(),
        o("human"),
        o("voicemail"),
        o("no_answer"),
        o("busy"),
        o("transferred"),
        o("failed"),
        d.answered.to_string(),
        d.redials_scheduled.to_string(),
        d.redials_placed.to_string(),
        d.redials_exhausted.to_string(),
        d.unmatched.to_string(),
        d.texts_scheduled.to_string(),
        d.texts_sent.to_string(),
        d.texts_blocked.to_string(),
        d.texts_failed.to_string(),
        d.replies.to_string(),
        d.opt_outs.to_string(),
        d.callbacks.to_string(),
    ]
}

/// One header row, one row per day, then a `total` row.
pub fn to_csv(stats: &PipelineStatistics) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEADER)?;
    for row in &stats.days {
        w.write_record(csv_row(&row.date, &row.counts))?;
    }
    w.write_record(csv_row("total", &stats.total))?;
    w.into_inner().map_err(|e| e.into_error().into())
}
