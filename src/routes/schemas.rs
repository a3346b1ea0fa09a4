//! The seed's JSON shapes, as OpenAPI schemas (documentation only: the handlers build the
//! same shapes; schemathesis checks every answer against these in CI). Fields beyond the
//! seed's are optional, so an answer may carry more.

#![allow(dead_code)]

use std::collections::BTreeMap;

use utoipa::ToSchema;

/// A blocklist flag.
#[derive(ToSchema)]
pub struct Flag {
    /// Ours: `flag_<ms>_<random>`.
    id: String,
    field: String,
    /// Phone values are E.164.
    value: String,
    reason: Option<String>,
    added_at: String,
    #[schema(required = false)]
    added_by: Option<String>,
    #[schema(required = false)]
    expires_at: Option<String>,
    #[schema(required = false)]
    updated_at: Option<String>,
}

/// `GET /api/admin/blocklist`.
#[derive(ToSchema)]
pub struct FlagList {
    enabled: bool,
    flags_count: u64,
    flags: Vec<Flag>,
}

/// `POST /api/admin/blocklist`.
#[derive(ToSchema)]
pub struct FlagAdded {
    success: bool,
    message: String,
    flag: Flag,
    /// The same field and value was flagged already (that flag is returned).
    #[schema(rename = "alreadyExists")]
    already_exists: bool,
}

/// `GET /api/admin/blocklist/{id}`.
#[derive(ToSchema)]
pub struct OneFlag {
    success: bool,
    flag: Flag,
}

/// `DELETE /api/admin/blocklist/{id}`, `PUT /api/admin/blocklist/{id}`.
#[derive(ToSchema)]
pub struct FlagChanged {
    success: bool,
    message: String,
    #[schema(required = false)]
    flag: Option<Flag>,
}

/// `PUT /api/admin/blocklist/enabled`.
#[derive(ToSchema)]
pub struct EnabledSet {
    success: bool,
    message: String,
    enabled: bool,
}

/// A blocked attempt.
#[derive(ToSchema)]
pub struct AttemptView {
    timestamp: String,
    field: String,
    value: String,
    lead_id: Option<String>,
    phone: Option<String>,
    blocked: bool,
    reason: String,
    flag_id: Option<String>,
}

/// `GET /api/admin/blocklist/attempts/{date}`.
#[derive(ToSchema)]
pub struct AttemptsDay {
    date: String,
    total_attempts: u64,
    blocked_count: u64,
    attempts: Vec<AttemptView>,
}

#[derive(ToSchema)]
pub struct DateRange {
    start: String,
    end: String,
}

/// A flag as the statistics show it (a flag removed since has `removed: true`).
#[derive(ToSchema)]
pub struct StatsFlag {
    id: String,
    field: String,
    value: String,
    reason: Option<String>,
    #[schema(required = false)]
    removed: Option<bool>,
}

#[derive(ToSchema)]
pub struct ByFlag {
    flag: StatsFlag,
    count: u64,
    dates: BTreeMap<String, u64>,
}

#[derive(ToSchema)]
pub struct ByField {
    count: u64,
    values: BTreeMap<String, u64>,
}

#[derive(ToSchema)]
pub struct ByList {
    count: u64,
    dates: BTreeMap<String, u64>,
}

/// `GET /api/admin/blocklist/statistics` (the seed's shape, plus `by_list`).
#[derive(ToSchema)]
pub struct BlocklistStatistics {
    date_range: DateRange,
    total_attempts: u64,
    blocked_attempts: u64,
    by_flag: BTreeMap<String, ByFlag>,
    by_field: BTreeMap<String, ByField>,
    #[schema(required = false)]
    by_list: BTreeMap<String, ByList>,
}

/// A do-not-call list's version in force.
#[derive(ToSchema)]
pub struct ListSnapshot {
    version: u64,
    downloaded_at: String,
    loaded_at: String,
    source: String,
    sha256: String,
}

/// A do-not-call list as admins see it.
#[derive(ToSchema)]
pub struct ListView {
    name: String,
    /// `national_dnc`, `state_dnc`, `internal_dnc`, `litigator` or `custom`.
    kind: String,
    count: u64,
    prefixes: u64,
    snapshot: Option<ListSnapshot>,
    age_days: Option<i64>,
    max_age_days: Option<u32>,
    /// `ok`, `stale`, `empty` or `loading`.
    status: String,
    #[schema(required = false)]
    states: Option<Vec<String>>,
}

/// `GET /api/admin/lists`.
#[derive(ToSchema)]
pub struct Lists {
    lists: Vec<ListView>,
}

#[derive(ToSchema)]
pub struct ListHolding {
    name: String,
    kind: String,
    snapshot_version: u64,
    /// The prefix that matched (`305` or `305555`), for a prefix entry.
    prefix: Option<u32>,
}

/// `GET /api/admin/lists/lookup`.
#[derive(ToSchema)]
pub struct ListLookup {
    /// E.164.
    phone: String,
    lists: Vec<ListHolding>,
}

/// A write to Convoso.
#[derive(ToSchema)]
pub struct ConvosoWrite {
    id: String,
    /// `lead_update` or `dnc_insert`.
    kind: String,
    call_id: Option<String>,
    lead_id: Option<String>,
    phone: Option<String>,
    params: BTreeMap<String, String>,
    /// `queued`, `failing`, `gave_up`.
    state: String,
    created_at: String,
    next_at: String,
    attempts: u32,
    failing_since: Option<String>,
    last_error: Option<String>,
    result: Option<String>,
    done_at: Option<String>,
}

/// `GET /api/admin/convoso/pending`.
#[derive(ToSchema)]
pub struct ConvosoPending {
    dry_run: bool,
    queued: u64,
    failing: u64,
    gave_up: u64,
    writes: Vec<ConvosoWrite>,
}

/// One day's (or the range's) pipeline counts.
#[derive(ToSchema)]
pub struct DayCounts {
    leads_received: u64,
    accepted: u64,
    deferred: u64,
    /// By stage: `schedule`, `answering_machine`, `protection`, `blocklist`.
    blocked: BTreeMap<String, u64>,
    blocked_total: u64,
    rejected: u64,
    expired: u64,
    deleted: u64,
    dispatched: u64,
    dry_run: u64,
    dispatch_failures: u64,
    unconfirmed: u64,
    requeued: u64,
    held_for_capacity: u64,
    /// By outcome of our calls: `human`, `voicemail`, `no_answer`, `busy`, `transferred`,
    /// `failed`.
    outcomes: BTreeMap<String, u64>,
    /// Completions for calls we did not place, counted apart (they change nothing else).
    unmatched: u64,
    answered: u64,
    redials_scheduled: u64,
    redials_placed: u64,
    redials_exhausted: u64,
    /// Follow-up texts scheduled, sent, blocked (or cancelled) and failed (or unconfirmed).
    texts_scheduled: u64,
    texts_sent: u64,
    texts_blocked: u64,
    texts_failed: u64,
    /// Texts the leads sent, the opt-outs among them, and callbacks asked for.
    replies: u64,
    opt_outs: u64,
    callbacks: u64,
    lists_checked: u64,
    /// Per do-not-call list, as in the audit.
    lists: BTreeMap<String, serde_json::Value>,
}

#[derive(ToSchema)]
pub struct DayRow {
    date: String,
    #[schema(inline)]
    #[serde(flatten)]
    counts: DayCounts,
}

/// `GET /api/admin/statistics`.
#[derive(ToSchema)]
pub struct PipelineStatistics {
    date_range: DateRange,
    timezone: String,
    days: Vec<DayRow>,
    total: DayCounts,
}
