//! The operational answers' JSON shapes (intake, calls, queue, trackers, feeds, lookups,
//! health), as OpenAPI schemas — documentation only, like `schemas`: the handlers build
//! these shapes and schemathesis checks every answer against them in CI. Journal events
//! and other records whose fields vary by kind stay free-form objects; fields that are
//! absent in some answers are optional.

#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::ToSchema;

use super::schemas::DateRange;

/// `POST /webhooks/lead`: the decision (202 accepted or deferred, 200 blocked).
#[derive(ToSchema)]
pub struct LeadAnswer {
    success: bool,
    /// Ours: `req_<uuid>`.
    request_id: String,
    /// `accepted`, `deferred` or `blocked`.
    decision: String,
    #[schema(required = false)]
    stage: Option<String>,
    #[schema(required = false)]
    reason: Option<String>,
    #[schema(required = false)]
    release_at: Option<String>,
    #[schema(required = false)]
    queue_id: Option<String>,
    #[schema(required = false)]
    flag_id: Option<String>,
}

/// One check of a decision's trace.
#[derive(ToSchema)]
pub struct TraceStep {
    check: String,
    /// `allow`, `defer` or `block`.
    verdict: String,
    reason: Option<String>,
    micros: f64,
}

/// `POST /api/admin/check`: the pipeline's answer with no side effects.
#[derive(ToSchema)]
pub struct CheckAnswer {
    at: String,
    decision: String,
    stage: Option<String>,
    reason: Option<String>,
    release_at: Option<String>,
    #[schema(required = false)]
    flag_id: Option<String>,
    trace: Vec<TraceStep>,
}

/// An open outbox entry.
#[derive(ToSchema)]
pub struct OutboxEntry {
    request_id: String,
    /// `queued`, `sending`, `unconfirmed` or `failed`.
    state: String,
    #[schema(required = false)]
    lead_id: Option<String>,
    #[schema(required = false)]
    phone: Option<String>,
    #[schema(required = false)]
    queued_at: Option<String>,
    #[schema(required = false)]
    attempts: Option<u64>,
    #[schema(required = false)]
    last_error: Option<String>,
}

/// `GET /api/admin/calls/pending`.
#[derive(ToSchema)]
pub struct PendingCalls {
    queued: u64,
    in_flight: u64,
    unconfirmed: u64,
    failed: u64,
    /// Set while queued calls wait because no caller id of the pool is usable.
    waiting_for_caller_id: Option<super::schemas_admin::CallerIdWait>,
    entries: Vec<OutboxEntry>,
}

/// A number with a call in flight.
#[derive(ToSchema)]
pub struct ActiveLine {
    phone: String,
    #[schema(required = false)]
    lead_id: Option<String>,
    #[schema(required = false)]
    request_id: Option<String>,
    #[schema(required = false)]
    since: Option<String>,
    #[schema(required = false)]
    auto_release_at: Option<String>,
}

/// `GET /api/admin/calls/active`.
#[derive(ToSchema)]
pub struct ActiveLines {
    count: u64,
    lines: Vec<ActiveLine>,
}

/// `GET /api/admin/calls/{request_id}`: the journal's events for one request.
#[derive(ToSchema)]
pub struct CallView {
    request_id: String,
    /// The `decision` event, with its trace.
    decision: Option<Value>,
    outbox: Option<Value>,
    dispatches: Vec<Value>,
    call_id: Option<String>,
    outcome: Option<Value>,
}

/// `GET /api/admin/calls/history/{phone}`: today's events for a number.
#[derive(ToSchema)]
pub struct CallHistory {
    phone: String,
    date: String,
    decisions: u64,
    outcomes: u64,
    events: Vec<Value>,
}

/// `GET /api/admin/leads/lookup`.
#[derive(ToSchema)]
pub struct LeadLookup {
    phone: Option<String>,
    lead_id: Option<String>,
    date_range: DateRange,
    decisions: u64,
    dispatches: u64,
    outcomes: u64,
    /// Calls placed elsewhere (`POST /webhooks/attempt`).
    external: u64,
    /// Texts the lead sent (`POST /webhooks/sms`).
    replies: u64,
    /// Callbacks asked for (`POST /webhooks/call-back`, or by text).
    callbacks: u64,
    truncated: bool,
    events: Vec<Value>,
}

/// `POST /api/admin/calls/reconcile`.
#[derive(ToSchema)]
pub struct Reconciled {
    looked_up: u64,
    found: u64,
    absent: u64,
    resent: u64,
    waiting: u64,
    polled: u64,
    completed_by_poll: u64,
    errors: u64,
}

/// `GET /api/admin/scheduler/queue`.
#[derive(ToSchema)]
pub struct DeferredQueue {
    total: u64,
    due: u64,
    matching: u64,
    offset: u64,
    limit: u64,
    oldest_deferred_at: Option<String>,
    /// `{id, version, request_id, lead_id, phone, first_deferred_at, deferred_at,
    /// release_at, stage, reason, releases, lead, releasing?}`.
    entries: Vec<Value>,
}

/// A day's business hours; `null` = closed.
#[derive(ToSchema)]
pub struct Hours {
    /// `HH:MM`.
    start: String,
    /// `HH:MM`, or `24:00` for midnight.
    end: String,
}

/// Business hours per weekday.
#[derive(ToSchema)]
pub struct Week {
    mon: Option<Hours>,
    tue: Option<Hours>,
    wed: Option<Hours>,
    thu: Option<Hours>,
    fri: Option<Hours>,
    sat: Option<Hours>,
    sun: Option<Hours>,
}

/// The scheduler's config document (`GET`/`PUT /api/admin/scheduler/config`).
#[derive(ToSchema)]
pub struct SchedulerConfig {
    enabled: bool,
    timezone: String,
    hours: Week,
    blackout_dates: Vec<String>,
    federal_holidays: bool,
    local_window: Value,
    max_defer_hours: f64,
}

/// The answering-machine tracker's config document.
#[derive(ToSchema)]
pub struct AnsweringMachineConfig {
    enabled: bool,
    max_attempts_per_day: f64,
    counted_outcomes: Vec<String>,
}

/// The protection rules' config document.
#[derive(ToSchema)]
pub struct ProtectionConfig {
    enabled: bool,
    /// Each rule switched on or off.
    rules: BTreeMap<String, bool>,
    max_call_minutes: f64,
    active_call_margin_minutes: f64,
    transfer_cooldown_minutes: f64,
    duplicate_window_minutes: f64,
    max_daily_attempts_per_number: f64,
    rolling_cap_states: Vec<String>,
    rolling_cap_calls: f64,
    not_interested_tags: Vec<String>,
    terminal_statuses: Vec<String>,
    invalid_numbers: BTreeMap<String, bool>,
}

/// `GET /api/admin/answering-machine/{lead_id}`: today's count for a lead and number.
#[derive(ToSchema)]
pub struct AttemptsToday {
    lead_id: String,
    phone: String,
    date: String,
    count: u64,
    max_attempts_per_day: f64,
    counted_outcomes: Vec<String>,
    outcomes: BTreeMap<String, u64>,
    blocked: bool,
}

/// `GET /api/admin/blocklist/feeds`.
#[derive(ToSchema)]
pub struct Feeds {
    /// `{name, kind, url, refresh_secs, entries, skipped, last_success, last_attempt,
    /// last_error, next_refresh, source, stale}` per feed.
    feeds: Vec<Value>,
    content_terms: u64,
}

/// `POST /api/admin/blocklist/feeds/refresh`.
#[derive(ToSchema)]
pub struct FeedsRefreshed {
    success: bool,
    feeds: Vec<Value>,
}

/// One match of `POST /api/admin/blocklist/check`.
#[derive(ToSchema)]
pub struct ScreenMatch {
    /// `flag`, `feed` or `content`.
    source: String,
    name_or_flag_id: Option<String>,
    term: String,
}

/// `POST /api/admin/blocklist/check`.
#[derive(ToSchema)]
pub struct ScreenAnswer {
    blocked: bool,
    matches: Vec<ScreenMatch>,
}

/// `POST /api/admin/blocklist/words/check`.
#[derive(ToSchema)]
pub struct WordsAnswer {
    blocked: bool,
    terms: Vec<String>,
}

/// A line of a bulk import that was not stored.
#[derive(ToSchema)]
pub struct InvalidLine {
    line: u64,
    value: Option<String>,
    error: String,
}

/// `POST /api/admin/blocklist/bulk`.
#[derive(ToSchema)]
pub struct BulkResult {
    success: bool,
    added: u64,
    existing: u64,
    invalid: Vec<InvalidLine>,
}

/// `GET /api/admin/quarantine`.
#[derive(ToSchema)]
pub struct QuarantineView {
    unacknowledged: u64,
    total: u64,
    /// `{file, offset, error, line, at, acknowledged}` per line kept aside.
    lines: Vec<Value>,
}

/// `GET /health` (200 and 503 alike).
#[derive(ToSchema)]
pub struct Health {
    /// `ok`, `degraded` or `unhealthy`.
    status: String,
    version: String,
    uptime_s: f64,
    data_dir_writable: bool,
    /// `dry_run` or `live`.
    mode: String,
    timezone: String,
    /// Per component (`blocklist`, `dispatch`, `feeds`, `quarantine`, `scheduler`,
    /// `trackers`, …): `{status, …}`.
    components: BTreeMap<String, Value>,
}

/// `GET /health/ready` (200 and 503 alike).
#[derive(ToSchema)]
pub struct Ready {
    /// Whether this instance's storage answers: a webhook it takes is durable.
    ready: bool,
    /// `files` or `database`.
    storage: String,
    /// When not ready: which storage does not answer, and why.
    error: Option<String>,
}

/// `POST /webhooks/bland`: the completion as recorded.
#[derive(ToSchema)]
pub struct CompletionAnswer {
    success: bool,
    call_id: String,
    /// `human`, `voicemail`, `no_answer`, `busy`, `transferred` or `failed`.
    outcome: String,
    /// `recorded`, `duplicate` or `unmatched`.
    status: String,
    #[schema(required = false)]
    request_id: Option<String>,
}

/// `POST /api/admin/calls/{request_id}/resolve`.
#[derive(ToSchema)]
pub struct Resolved {
    success: bool,
    /// What was done, by kind of resolution.
    resolved: Value,
}

/// `POST /api/admin/quarantine/acknowledge`.
#[derive(ToSchema)]
pub struct Acknowledged {
    success: bool,
    acknowledged: u64,
}

/// `POST /api/admin/redials/{lead_id}/pause` and `…/resume`.
#[derive(ToSchema)]
pub struct RedialsView {
    lead_id: String,
    /// The lead's pending redials (deferred-queue entries).
    redials: Value,
}

/// `DELETE /api/admin/redials/{lead_id}`.
#[derive(ToSchema)]
pub struct RedialsRemoved {
    lead_id: String,
    removed: u64,
}

/// `DELETE /api/admin/scheduler/queue/{id}`.
#[derive(ToSchema)]
pub struct QueueDeleted {
    /// The entry removed.
    deleted: Value,
}
