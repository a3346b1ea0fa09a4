//! The call provider interface: what the dispatcher, reconciliation, redials, the
//! completion webhook and the texts need of whoever places the calls, in our own types. Bland
//! ([`crate::bland`]) is the one implementation; its field names and JSON stay in its
//! module. A second provider is one new module implementing [`CallProvider`] and one
//! branch in `startup/gateway.rs` (`call_provider`) that builds it.
//!
//! The body a provider builds for a call is kept in the outbox as it is (opaque here), so
//! a retry or a resend sends exactly what was accepted.

use futures_util::future::BoxFuture;
use serde_json::Value;

use crate::domain::Lead;
use crate::journal::Outcome;

/// The lead field a redial's number travels in (`_callgate_*` fields are ours: never shown
/// to the provider's agent).
pub const REDIAL_FIELD: &str = "_callgate_redial";

/// How one send ended, chosen so that one lead never becomes two calls.
#[derive(Debug, Clone, PartialEq)]
pub enum SendResult {
    /// The provider took the call.
    Queued { call_id: String },
    /// The provider certainly did not take it (no connection, unavailable).
    Retry {
        after: Option<std::time::Duration>,
        why: String,
    },
    /// The provider is limiting the account (a 429): it did not take the call, which is
    /// retried like [`SendResult::Retry`], and no call is sent anywhere in the deployment
    /// until `after` (or a backoff) has passed.
    Throttled {
        after: Option<std::time::Duration>,
        why: String,
    },
    /// The provider refused it.
    Failed { status: u16, message: String },
    /// It may have been taken (a timeout after sending, an answer without a call id):
    /// never retried blindly.
    Unconfirmed { why: String },
}

/// A completion, read from the provider's webhook (or its call details).
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub call_id: String,
    /// Our `request_id`, echoed by the provider.
    pub request_id: Option<String>,
    pub outcome: Outcome,
    /// Seconds.
    pub duration_s: Option<f64>,
    /// Disposition and pathway tags, as sent.
    pub tags: Vec<String>,
    /// What the Convoso write-back carries.
    pub answered_by: Option<String>,
    pub recording_url: Option<String>,
    pub summary: Option<String>,
    pub transcript: Option<String>,
    /// The lead's list, echoed from our metadata.
    pub list_id: Option<String>,
    /// Fetched from the provider because no completion webhook came (`source: poll`).
    pub polled: bool,
    /// Which redial this call was, and the lead's fields as the provider echoes them.
    pub redial: Option<u32>,
    pub request_data: Option<serde_json::Map<String, Value>>,
}

/// What can go wrong asking the provider.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// No key: calls are only logged (dry run), so there is nothing to ask.
    #[error("dry run: no provider key is configured")]
    DryRun,
    /// Not reached, or an answer we cannot use (the text names it, never the URL).
    #[error("{0}")]
    Unavailable(String),
    /// A call id we do not send in a URL.
    #[error("`{0}` is not a call id we look up")]
    BadCallId(String),
    /// A completion payload missing what we need.
    #[error("{0}")]
    BadPayload(String),
}

/// A call the provider lists for a number.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedCall {
    pub call_id: String,
    /// Our `request_id`, when the listing carries it (else fetch the call).
    pub request_id: Option<String>,
}

/// One call as the provider holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallDetails {
    pub request_id: Option<String>,
    /// Its outcome, once the call is over.
    pub completion: Option<Completion>,
}

/// A text to send.
#[derive(Debug, Clone, PartialEq)]
pub struct TextMessage<'a> {
    /// Our id of the text (sent along, so the provider's records name it).
    pub id: &'a str,
    /// E.164.
    pub to: &'a str,
    pub from: &'a str,
    pub body: &'a str,
}

/// How one text send ended, chosen so that one text is never sent twice.
#[derive(Debug, Clone, PartialEq)]
pub enum TextResult {
    /// Taken; the provider's id of it, if it gave one.
    Sent { id: Option<String> },
    /// No key: logged, not sent.
    DryRun,
    /// Certainly not taken (no connection, rate limited, unavailable): tried again.
    Retry { why: String },
    /// Refused.
    Failed { status: u16, message: String },
    /// It may have been taken: never sent again on its own.
    Unconfirmed { why: String },
}

pub trait CallProvider: Send + Sync {
    /// Whether calls are really placed (false: dry run, the body is only logged).
    fn live(&self) -> bool;

    /// The request body for a call to `lead` under our `request_id`, from `from`.
    fn call_body(&self, lead: &Lead, request_id: &str, from: Option<&str>) -> Value;

    /// A stored body placed from `from` instead (the caller-ID pool's choice at send time).
    fn with_from(&self, body: &Value, from: &str) -> Value;

    /// Which redial a body is (our marker in it), if it is one.
    fn redial_of(&self, body: &Value) -> Option<u64>;

    /// The lead's fields a body carries (a stored call re-checked or sent again).
    fn lead_fields_of(&self, body: &Value) -> Option<serde_json::Map<String, Value>>;

    /// Places the call `body` describes.
    fn place<'a>(&'a self, body: &'a Value) -> BoxFuture<'a, SendResult>;

    /// The calls the provider holds for `phone` (E.164), newest first.
    fn calls_to<'a>(
        &'a self,
        phone: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ListedCall>, ProviderError>>;

    /// One call; `None` when the provider has no such call.
    fn call<'a>(
        &'a self,
        call_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<CallDetails>, ProviderError>>;

    /// Reads a completion webhook's payload; `Err` names what is missing.
    fn parse_completion(&self, payload: &Value) -> Result<Completion, ProviderError>;

    /// The header a completion webhook's signature comes in.
    fn signature_header(&self) -> &'static str;

    /// Whether a completion webhook's raw `body` carries a valid `signature` (true when
    /// no secret is configured).
    fn verify(&self, body: &[u8], signature: Option<&str>) -> bool;

    /// Sends a text.
    fn send_text<'a>(&'a self, text: &'a TextMessage<'a>) -> BoxFuture<'a, TextResult>;
}
