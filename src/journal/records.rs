//! Journal record shapes. Attempt lines keep the seed's fields (`timestamp`, `field`,
//! `value`, `lead_id`, `phone`, `blocked`, `reason`, `flag_id`) and add `request_id`,
//! `stage` and `source`. Call-journal lines are tagged by `event`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::clock::{millis, millis_opt};

/// A blocked attempt (one line of `attempts_YYYY-MM-DD.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    #[serde(with = "millis")]
    pub timestamp: DateTime<Utc>,
    pub field: String,
    pub value: String,
    pub lead_id: Option<String>,
    pub phone: Option<String>,
    pub blocked: bool,
    pub reason: String,
    pub flag_id: Option<String>,
    pub request_id: Option<String>,
    /// The pipeline stage that blocked (`blocklist` for flag, feed and content blocks).
    pub stage: String,
    /// `flag`, `list`, `feed` or `content`.
    pub source: String,
    /// The flag's own reason at the time, so statistics can show a flag removed since.
    /// Always written (null when there is none): statistics read these lines in key order.
    #[serde(default)]
    pub flag_reason: Option<String>,
    /// A do-not-call list block: the list and its snapshot version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_version: Option<u64>,
}

impl Attempt {
    pub fn at(&self) -> DateTime<Utc> {
        self.timestamp
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Accepted,
    Deferred,
    Blocked,
}

impl Decision {
    /// The API's word (and the journal's), for logs too.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Deferred => "deferred",
            Self::Blocked => "blocked",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DispatchStatus {
    /// Bland accepted the call.
    Sent,
    /// No Bland key: logged, not sent.
    DryRun,
    /// Bland certainly did not take it: it refused the call, or every retry of a failure
    /// it certainly did not take was spent (the outbox keeps it for an admin).
    Failed,
    /// An admin cancelled a call that Bland may have (`unconfirmed`).
    Cancelled,
    /// The request may or may not have reached Bland (timeout after sending).
    Unconfirmed,
    /// Not sent: the calling window closed before the send; back in the deferred queue.
    Deferred,
    /// Not sent yet: it waits for capacity (a calling budget spent, sending paused after
    /// a 429, no caller id usable); `error` says which. The call stays queued.
    Held,
}

/// The caller-ID pool's choice for one call: the number, the tier that chose it
/// (`sticky`, `area_code`, `state`, `time_zone`, `any`) and its weight then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallerIdChoice {
    pub number: String,
    pub tier: String,
    pub weight: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Human,
    Voicemail,
    NoAnswer,
    Busy,
    Transferred,
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Self::Human,
        Self::Voicemail,
        Self::NoAnswer,
        Self::Busy,
        Self::Transferred,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::Voicemail => "voicemail",
            Self::NoAnswer => "no_answer",
            Self::Busy => "busy",
            Self::Transferred => "transferred",
            Self::Failed => "failed",
        }
    }
}

/// One line of `calls_YYYY-MM-DD.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CallEvent {
    /// The pipeline decided about a lead. `release` is true when a deferred lead was
    /// re-run; such decisions are not counted as newly received leads.
    Decision {
        #[serde(with = "millis")]
        timestamp: DateTime<Utc>,
        request_id: String,
        lead_id: Option<String>,
        phone: Option<String>,
        decision: Decision,
        stage: Option<String>,
        reason: Option<String>,
        #[serde(default)]
        release: bool,
        /// For a deferral: the deferred-queue entry and its release time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        queue_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none", with = "millis_opt")]
        release_at: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trace: Option<Value>,
        /// For a blocklist block: the attempt, also written to the attempts journal. This
        /// (synced) copy is what restores the attempts file after a power cut.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attempt: Option<Box<Attempt>>,
        /// The lead's fields the checks read, bounded (`Lead::recheck_fields`), so a
        /// re-check ("check now") runs on the lead as it came, not its number alone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fields: Option<serde_json::Map<String, Value>>,
    },
    /// A deferred lead left the queue without a decision: `why` is `expired` (older than
    /// `max_defer_hours`) or `deleted` (by an admin).
    Dequeued {
        #[serde(with = "millis")]
        timestamp: DateTime<Utc>,
        request_id: String,
        queue_id: String,
        lead_id: Option<String>,
        phone: Option<String>,
        why: crate::schedule::queue::Removal,
        #[serde(with = "millis")]
        first_deferred_at: DateTime<Utc>,
    },
    /// A webhook refused as invalid input.
    Rejected {
        #[serde(with = "millis")]
        timestamp: DateTime<Utc>,
        request_id: String,
        errors: Vec<String>,
    },
    /// A dispatch attempt's result.
    Dispatch {
        #[serde(with = "millis")]
        timestamp: DateTime<Utc>,
        request_id: String,
        status: DispatchStatus,
        #[serde(default)]
        lead_id: Option<String>,
        #[serde(default)]
        phone: Option<String>,
        #[serde(default)]
        call_id: Option<String>,
        #[serde(default)]
        error: Option<String>,
        /// The caller-ID pool's choice for this try (none without a pool).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caller_id: Option<CallerIdChoice>,
    },
    /// An `unconfirmed` call looked up at Bland: `found` (settled as sent with its
    /// `call_id`), `absent` (not in Bland's list `reconcile_after_minutes` after its send;
    /// it waits for an admin), `resent` (absent, and `auto_resend_unconfirmed` is on).
    Reconciled {
        #[serde(with = "millis")]
        timestamp: DateTime<Utc>,
        request_id: String,
        result: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call_id: Option<String>,
    },
    /// A redial: `scheduled` (through the deferred queue, `queue_id`, due `release_at`),
    /// `placed` (Bland took redial `n`), `exhausted` (`max_redials` reached: no more).
    Redial {
        #[serde(with = "millis")]
        timestamp: DateTime<Utc>,
        request_id: Option<String>,
        lead_id: String,
        phone: String,
        n: u32,
        of: u32,
        result: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<Outcome>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        queue_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none", with = "millis_opt")]
        release_at: Option<DateTime<Utc>>,
    },
    /// Bland's completion webhook, mapped to one outcome. `duration_s` is in seconds.
    Outcome {
        #[serde(with = "millis")]
        timestamp: DateTime<Utc>,
        request_id: Option<String>,
        call_id: String,
        outcome: Outcome,
        #[serde(default)]
        duration_s: Option<f64>,
        /// False when the call id was unknown (journaled, but no tracker changes).
        #[serde(default = "yes")]
        matched: bool,
        /// The call's lead and number (from the call index), for the trackers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lead_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phone: Option<String>,
        /// Bland's disposition and pathway tags, as sent.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tags: Vec<String>,
        /// `poll` when the outcome was fetched from Bland because no completion webhook
        /// came; absent for a webhook.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
    },
    /// A call another dialer placed (Convoso's own dialer, a person), posted to
    /// `POST /webhooks/attempt`: it counts toward the caps, the answering-machine counts
    /// and the transfer cooldown like one of ours, at `at` (when it was placed).
    /// `timestamp` is when it was recorded; (`source`, `id`) is the poster's key, recorded
    /// once.
    External {
        #[serde(with = "millis")]
        timestamp: DateTime<Utc>,
        /// Ours, like every decision's.
        request_id: String,
        source: String,
        id: String,
        lead_id: String,
        phone: String,
        #[serde(with = "millis")]
        at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<Outcome>,
    },
    /// A text the lead sent us (`POST /webhooks/sms`): what it asked for (`opt_out`,
    /// `callback` or `other`, with the word that said it) and what was done about it.
    /// `key` (the provider's message id, or a digest of sender, recipient and text) is
    /// recorded once: a repeated webhook changes nothing.
    Reply {
        #[serde(with = "millis")]
        timestamp: DateTime<Utc>,
        request_id: String,
        key: String,
        phone: String,
        /// Our number it was sent to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
        /// The lead it came from: the latest lead decided for the number, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lead_id: Option<String>,
        /// The text, at most 1,600 characters.
        body: String,
        asked: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        word: Option<String>,
        /// What was done: `flagged` (with `flag_id`), `callback` (with `queue_id`), or
        /// `none`.
        action: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        flag_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        queue_id: Option<String>,
    },
    /// A follow-up text scheduled after a call (one line per text of the sequence).
    SmsScheduled(TextLine),
    /// A text the provider took (`status: sent`), or logged in a dry run (`dry_run`).
    SmsSent(TextLine),
    /// A text that may never go (`reason`): a flag, a list, a missing field, the
    /// recipient's zone unknown; or cancelled (a new lead, a person answered, an opt-out).
    SmsBlocked(TextLine),
    /// A text the provider refused, or whose send may have reached it (`status:
    /// unconfirmed`: never sent again on its own).
    SmsFailed(TextLine),
    /// A callback asked for (`POST /webhooks/call-back`, or a text's callback word): the
    /// lead put in the deferred queue (stage `callback`) for `release_at`, when it goes
    /// through the whole pipeline.
    Callback {
        #[serde(with = "millis")]
        timestamp: DateTime<Utc>,
        request_id: String,
        lead_id: String,
        phone: String,
        /// `webhook` or `sms`.
        source: String,
        queue_id: String,
        #[serde(with = "millis")]
        release_at: DateTime<Utc>,
    },
}

/// One text's line in the call journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextLine {
    #[serde(with = "millis")]
    pub timestamp: DateTime<Utc>,
    /// Ours: `sms_<the call's request id>_<step>`.
    pub text_id: String,
    pub lead_id: String,
    pub phone: String,
    /// Which text of the sequence, of how many.
    pub step: u32,
    pub of: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "millis_opt")]
    pub due_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// The confirmation of an opt-out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirmation: bool,
}

fn yes() -> bool {
    true
}

impl CallEvent {
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::Decision { timestamp, .. }
            | Self::Rejected { timestamp, .. }
            | Self::Dequeued { timestamp, .. }
            | Self::Dispatch { timestamp, .. }
            | Self::Reconciled { timestamp, .. }
            | Self::Redial { timestamp, .. }
            | Self::Outcome { timestamp, .. }
            | Self::External { timestamp, .. }
            | Self::Reply { timestamp, .. }
            | Self::Callback { timestamp, .. } => *timestamp,
            Self::SmsScheduled(t) | Self::SmsSent(t) | Self::SmsBlocked(t) | Self::SmsFailed(t) => {
                t.timestamp
            }
        }
    }
}
