//! Bland's completion webhook (and call details) read into our [`Completion`]: one outcome
//! from Bland's fields, `call_length` in minutes turned into seconds, our metadata echoed.

use serde_json::Value;

use crate::journal::Outcome;
use crate::provider::{Completion, ProviderError};

/// The call's disposition and pathway tags.
fn tags(payload: &Value) -> Vec<String> {
    let mut out: Vec<String> = ["disposition_tag", "disposition"]
        .iter()
        .filter_map(|k| text(payload, k).map(str::to_string))
        .collect();
    if let Some(items) = payload.get("pathway_tags").and_then(Value::as_array) {
        for item in items {
            let tag = item
                .as_str()
                .or_else(|| item.get("name").and_then(Value::as_str));
            if let Some(t) = tag.map(str::trim).filter(|t| !t.is_empty()) {
                out.push(t.to_string());
            }
        }
    }
    out
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Calls shorter than this with no `answered_by` count as not answered.
const SILENT_SECONDS: f64 = 5.0;

/// Maps a payload to one outcome, first rule that matches: a merged warm transfer →
/// `transferred`; `answered_by` voicemail/machine → `voicemail`; no-answer (by
/// `answered_by` or `status`) → `no_answer`; busy → `busy`; an `error_message` or status
/// `failed` → `failed`; `answered_by` human → `human`; no `answered_by` and under 5 s →
/// `no_answer`; otherwise `human`.
pub fn parse(payload: &Value) -> Result<Completion, ProviderError> {
    let call_id = text(payload, "call_id")
        .or_else(|| text(payload, "c_id"))
        .ok_or_else(|| ProviderError::BadPayload("`call_id` is required".into()))?
        .to_string();
    let request_id = payload
        .get("metadata")
        .and_then(|m| text(m, "request_id"))
        .map(str::to_string);
    let status = text(payload, "status")
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let answered_by = text(payload, "answered_by")
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let duration_s = payload
        .get("call_length")
        .and_then(Value::as_f64)
        .map(|minutes| minutes * 60.0);
    let merged = payload
        .get("warm_transfer_call")
        .and_then(|w| text(w, "state"))
        .is_some_and(|s| s.eq_ignore_ascii_case("MERGED"));
    let is = |set: &[&str], v: &str| set.contains(&v);
    let outcome = if merged {
        Outcome::Transferred
    } else if is(&["voicemail", "machine", "answering_machine"], &answered_by) {
        Outcome::Voicemail
    } else if is(&["no-answer", "no_answer", "no answer"], &answered_by)
        || is(&["no-answer", "no_answer"], &status)
    {
        Outcome::NoAnswer
    } else if answered_by == "busy" || status == "busy" {
        Outcome::Busy
    } else if text(payload, "error_message").is_some() || status == "failed" {
        Outcome::Failed
    } else if answered_by == "human" {
        Outcome::Human
    } else if answered_by.is_empty() && duration_s.unwrap_or(0.0) < SILENT_SECONDS {
        Outcome::NoAnswer
    } else {
        Outcome::Human
    };
    let own = |k: &str| text(payload, k).map(str::to_string);
    Ok(Completion {
        call_id,
        request_id,
        outcome,
        duration_s,
        tags: tags(payload),
        answered_by: own("answered_by"),
        recording_url: own("recording_url"),
        summary: own("summary"),
        transcript: own("concatenated_transcript"),
        list_id: payload
            .get("metadata")
            .and_then(|m| text(m, "list_id"))
            .map(str::to_string),
        polled: false,
        redial: payload
            .get("metadata")
            .and_then(|m| m.get("redial"))
            .and_then(|n| {
                n.as_u64()
                    .or_else(|| n.as_str().and_then(|s| s.parse().ok()))
            })
            .map(|n| n.min(1000) as u32),
        request_data: payload
            .get("request_data")
            .and_then(Value::as_object)
            .cloned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outcome(v: Value) -> Outcome {
        parse(&v).expect("valid").outcome
    }

    #[test]
    fn each_outcome_from_its_fields() {
        assert_eq!(
            outcome(
                json!({"call_id": "c", "answered_by": "human", "warm_transfer_call": {"state": "MERGED"}})
            ),
            Outcome::Transferred
        );
        assert_eq!(
            outcome(json!({"call_id": "c", "answered_by": "machine"})),
            Outcome::Voicemail
        );
        assert_eq!(
            outcome(json!({"call_id": "c", "answered_by": "no-answer"})),
            Outcome::NoAnswer
        );
        assert_eq!(
            outcome(json!({"call_id": "c", "status": "busy"})),
            Outcome::Busy
        );
        assert_eq!(
            outcome(json!({"call_id": "c", "status": "failed", "error_message": "x"})),
            Outcome::Failed
        );
        assert_eq!(
            outcome(json!({"call_id": "c", "answered_by": "human", "call_length": 0.5})),
            Outcome::Human
        );
        assert_eq!(
            outcome(json!({"call_id": "c", "call_length": 0.05})),
            Outcome::NoAnswer
        );
        assert_eq!(
            outcome(json!({"call_id": "c", "call_length": 2})),
            Outcome::Human
        );
    }

    #[test]
    fn call_length_is_converted_to_seconds_and_call_id_is_required() {
        let c =
            parse(&json!({"call_id": "c", "call_length": 1.5, "metadata": {"request_id": "r"}}))
                .expect("valid");
        assert_eq!(c.duration_s, Some(90.0));
        assert_eq!(c.request_id.as_deref(), Some("r"));
        assert!(parse(&json!({"status": "completed"})).is_err());
    }

    #[test]
    fn tags_come_from_the_disposition_and_pathway_tags_in_either_form() {
        let c = parse(&json!({"call_id": "c", "disposition_tag": "Not Interested",
            "pathway_tags": ["qualified", {"name": "do-not-call", "color": "red"}, 3]}))
        .expect("valid");
        assert_eq!(c.tags, ["Not Interested", "qualified", "do-not-call"]);
    }
}
