//! The answers of the lists' uploads and audit, the queue's release, the Convoso write
//! actions and the flags' export, as OpenAPI schemas — documentation only, like `schemas`
//! and `schemas_ops`.

#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::ToSchema;

use super::schemas::DateRange;

/// A line of a list file that was not loaded.
#[derive(ToSchema)]
pub struct ListLine {
    line: u64,
    text: String,
    error: String,
}

/// `PUT /api/admin/lists/{name}`: the new version.
#[derive(ToSchema)]
pub struct ListReplaced {
    name: String,
    version: u64,
    count: u64,
    prefixes: u64,
    /// `YYYY-MM-DD`.
    downloaded_at: String,
    sha256: String,
    bytes: u64,
    invalid: u64,
    invalid_lines: Vec<ListLine>,
}

/// `POST /api/admin/lists/{name}/changes`: the new version.
#[derive(ToSchema)]
pub struct ListChanged {
    name: String,
    version: u64,
    count: u64,
    added: u64,
    deleted: u64,
    invalid: u64,
    invalid_lines: Vec<ListLine>,
}

/// `DELETE /api/admin/lists/{name}/contents`: the new, empty version.
#[derive(ToSchema)]
pub struct ListEmptied {
    name: String,
    version: u64,
    count: u64,
}

/// `POST /api/admin/scheduler/queue/release?id=`: the released entry's new decision.
#[derive(ToSchema)]
pub struct ReleasedOne {
    queue_id: String,
    decision: String,
    stage: Option<String>,
    reason: Option<String>,
    release_at: Option<String>,
    flag_id: Option<String>,
}

/// `POST /api/admin/scheduler/queue/release`: every entry made due.
#[derive(ToSchema)]
pub struct ReleasedAll {
    released: u64,
}

/// `POST /api/admin/convoso/pending/{id}/retry`.
#[derive(ToSchema)]
pub struct ConvosoRetried {
    /// The write, as in `GET /api/admin/convoso/pending`.
    retried: Value,
}

/// `DELETE /api/admin/convoso/pending/{id}`.
#[derive(ToSchema)]
pub struct ConvosoDismissed {
    /// The write set aside.
    dismissed: Value,
}

/// `GET /api/admin/blocklist/export` (JSON): what `POST /api/admin/blocklist/bulk` takes back.
#[derive(ToSchema)]
pub struct FlagExport {
    enabled: bool,
    flags: Vec<super::schemas::Flag>,
}

/// One business day of the lists' proof of scrub.
#[derive(ToSchema)]
pub struct ScrubDay {
    date: String,
    leads_checked: u64,
    /// Per list: `{checked, hits, closed, exempt, versions: {version: {downloaded_at,
    /// min_age_days, max_age_days, checked, hits, closed, exempt}}}`.
    lists: BTreeMap<String, Value>,
}

/// `GET /api/admin/lists/audit` (JSON).
#[derive(ToSchema)]
pub struct ScrubAudit {
    date_range: DateRange,
    timezone: String,
    days: Vec<ScrubDay>,
}

/// A pool number's rest.
#[derive(ToSchema)]
pub struct CallerIdRest {
    reason: String,
    until: Option<String>,
    at: String,
    /// `admin` or `automatic`.
    by: String,
}

/// One pool number now.
#[derive(ToSchema)]
pub struct CallerIdRow {
    number: String,
    /// `usable`, `disabled`, `rested`, `hourly_cap`, `daily_cap`, `cooling_down`.
    state: String,
    until: Option<String>,
    cooldown_until: Option<String>,
    weight: f64,
    pickup_rate: Option<f64>,
    calls_this_hour: u64,
    calls_today: u64,
    /// In the rolling window.
    calls: u64,
    outcomes: u64,
    pickups: u64,
    streak: u64,
    hourly_cap: Option<u64>,
    daily_cap: Option<u64>,
    area_codes: Vec<String>,
    states: Vec<String>,
    enabled: bool,
    rested: Option<CallerIdRest>,
    /// Choices per tier (`sticky`, `area_code`, `state`, `time_zone`, `any`) since this
    /// instance started.
    tier_hits: BTreeMap<String, u64>,
}

/// Why calls wait for a caller id.
#[derive(ToSchema)]
pub struct CallerIdWait {
    why: String,
    until: Option<String>,
}

/// `GET /api/admin/caller-ids`.
#[derive(ToSchema)]
pub struct CallerIdList {
    enabled: bool,
    waiting: Option<CallerIdWait>,
    pool_pickup_rate: Option<f64>,
    numbers: Vec<CallerIdRow>,
}

/// A call placed from a pool number.
#[derive(ToSchema)]
pub struct CallerIdCall {
    request_id: String,
    phone: String,
    at: String,
    outcome: Option<String>,
    outcome_at: Option<String>,
}

/// `GET /api/admin/caller-ids/{number}`: the row and its recent calls.
#[derive(ToSchema)]
pub struct CallerIdOne {
    #[schema(inline)]
    #[serde(flatten)]
    row: CallerIdRow,
    recent_calls: Vec<CallerIdCall>,
}

/// The follow-up texts' config document.
#[derive(ToSchema)]
pub struct SmsConfig {
    enabled: bool,
    from: Option<String>,
    /// Outcomes that start a sequence.
    triggers: Vec<String>,
    /// Days after the call each text is due.
    day_gaps: Vec<u64>,
    messages: Vec<String>,
    max_per_day: u64,
    /// The recipient's local `HH:MM`.
    start: String,
    end: String,
    /// `mon` … `sun`.
    days: Vec<String>,
}

/// The caller-ID pool's config document.
#[derive(ToSchema)]
pub struct CallerIdPool {
    /// Keyed by E.164.
    numbers: BTreeMap<String, Value>,
    daily_cap: Option<u64>,
    hourly_cap: Option<u64>,
    window_hours: u64,
    cooldowns: Vec<Value>,
    min_available: u64,
    auto_rest: Value,
    cooldowns_cleared_at: Option<String>,
}
