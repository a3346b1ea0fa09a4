//! Bland's completion webhook: one outcome from the payload's fields.

use serde_json::Value;

use super::calls::Claim;
use super::Completed;
use crate::journal::{CallEvent, Outcome};

/// What the gateway reads from a completion payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub call_id: String,
    pub request_id: Option<String>,
    pub outcome: Outcome,
    /// Seconds. Bland documents `call_length` in minutes; it is converted here.
    pub duration_s: Option<f64>,
    /// `disposition_tag`/`disposition` and `pathway_tags` (strings, or objects with a
    /// `name`), as sent.
    pub tags: Vec<String>,
    /// What the Convoso write-back carries: `answered_by`, the recording, the summary, the
    /// transcript, and the lead's list (our own `metadata.list_id`, echoed by Bland).
    pub answered_by: Option<String>,
    pub recording_url: Option<String>,
    pub summary: Option<String>,
    pub transcript: Option<String>,
    pub list_id: Option<String>,
    /// Fetched from Bland because no completion webhook came (journaled `source: poll`).
    pub polled: bool,
    /// Which redial this call was (`metadata.redial`, ours), and the lead's fields as
    /// Bland echoes them (`request_data`), for scheduling the next one.
    pub redial: Option<u32>,
    pub request_data: Option<serde_json::Map<String, Value>>,
}

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

/// How long a completion waits for the recorded result of its call's send.
const SEND_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Calls shorter than this with no `answered_by` count as not answered.
const SILENT_SECONDS: f64 = 5.0;

/// Maps a payload to one outcome, first rule that matches: a merged warm transfer →
/// `transferred`; `answered_by` voicemail/machine → `voicemail`; no-answer (by
/// `answered_by` or `status`) → `no_answer`; busy → `busy`; an `error_message` or status
/// `failed` → `failed`; `answered_by` human → `human`; no `answered_by` and under 5 s →
/// `no_answer`; otherwise `human`.
pub fn parse(payload: &Value) -> Result<Completion, String> {
    let call_id = text(payload, "call_id")
        .or_else(|| text(payload, "c_id"))
        .ok_or("`call_id` is required")?
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

impl super::Gateway {
    /// A completion whose `metadata.request_id` names an `unconfirmed` call of ours (a
    /// send cut short by a timeout or a crash) proves Bland took it: the call is settled as
    /// sent with this `call_id`, and the completion then counts as its outcome.
    async fn settle_unconfirmed(&self, c: &Completion) -> Result<(), String> {
        let Some(request_id) = &c.request_id else {
            return Ok(());
        };
        let entry = self
            .outbox_entry(request_id)
            .await
            .map_err(|e| format!("could not read the outbox: {e}"))?;
        let Some(entry) = entry.filter(|e| e.state == super::outbox::State::Unconfirmed) else {
            return Ok(());
        };
        self.settle_sent(&entry, Some(c.call_id.clone()))
            .await
            .map_err(|e| format!("could not settle unconfirmed call {request_id}: {e}"))?;
        tracing::info!(request_id = %request_id, call_id = %c.call_id, "unconfirmed call settled as sent by its completion");
        Ok(())
    }

    /// Records Bland's completion webhook once per `call_id`.
    pub async fn complete(&self, payload: &Value) -> Result<(Completion, Completed), String> {
        self.complete_parsed(parse(payload)?).await
    }

    /// A completion can overtake its own send: Bland calls back before its answer to our
    /// `POST /v1/calls` has been recorded (or while another instance records it). A
    /// completion naming a call of ours that is still in flight waits, at most
    /// [`SEND_WAIT`], for the send's result, so it is matched instead of consumed as
    /// `unmatched`. Still in flight then (its sender died holding the claim), the answer is
    /// an error (503): nothing is recorded, Bland's retry or reconciliation applies it.
    async fn await_send(&self, c: &Completion) -> Result<(), String> {
        let Some(request_id) = &c.request_id else {
            return Ok(());
        };
        let deadline = tokio::time::Instant::now() + SEND_WAIT;
        loop {
            let entry = self
                .outbox_entry(request_id)
                .await
                .map_err(|e| format!("could not read the outbox: {e}"))?;
            if !entry.is_some_and(|e| e.state == super::outbox::State::InFlight) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "call {request_id} is still being sent (its result is not recorded yet)"
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// [`super::Gateway::complete`] for a completion already read (a polled one included).
    pub async fn complete_parsed(&self, c: Completion) -> Result<(Completion, Completed), String> {
        self.await_send(&c).await?;
        self.settle_unconfirmed(&c).await?;
        if let Some(sh) = &self.shared {
            return self.complete_shared(sh, c).await;
        }
        let (matched, request_id, done, lead_id, phone) =
            match self.calls.claim(&c.call_id, c.outcome) {
                Claim::Duplicate => return Ok((c, Completed::Duplicate)),
                Claim::Unknown => (
                    false,
                    c.request_id.clone(),
                    Completed::Unmatched,
                    None,
                    None,
                ),
                Claim::New(call) => (
                    true,
                    Some(call.request_id.clone()),
                    Completed::Recorded {
                        request_id: call.request_id,
                    },
                    call.lead_id,
                    call.phone,
                ),
            };
        if matched {
            if let Err(e) = self
                .follow_up(
                    &c,
                    request_id.as_deref(),
                    lead_id.as_deref(),
                    phone.as_deref(),
                )
                .await
            {
                self.calls.unclaim(&c.call_id);
                return Err(e);
            }
        }
        let event = CallEvent::Outcome {
            timestamp: self.clock.now(),
            request_id,
            call_id: c.call_id.clone(),
            outcome: c.outcome,
            duration_s: c.duration_s,
            matched,
            lead_id,
            phone,
            tags: c.tags.clone(),
            source: c.polled.then(|| "poll".to_string()),
        };
        if let Err(e) = self.journals.append_call(&event).wait().await {
            self.calls.unclaim(&c.call_id);
            return Err(format!("could not record the outcome: {e}"));
        }
        self.tracker.apply(&event);
        if let CallEvent::Outcome {
            phone: Some(phone),
            timestamp,
            ..
        } = &event
        {
            self.line_free(phone, *timestamp);
        }
        if !matched {
            tracing::warn!(call_id = %c.call_id, "completion for a call we did not place; journaled as unmatched, no tracker changed");
        }
        Ok((c, done))
    }
}

impl super::Gateway {
    /// [`super::Gateway::complete`] in database mode: the call is found by its `sent`
    /// line, and the outcome is journaled once per `call_id` across instances.
    async fn complete_shared(
        &self,
        sh: &super::shared::Shared,
        c: Completion,
    ) -> Result<(Completion, Completed), String> {
        let found = sh
            .db
            .call_by_id(&c.call_id)
            .await
            .map_err(|e| format!("could not look the call up: {e}"))?;
        let (matched, request_id, lead_id, phone) = match found {
            Some((request_id, lead_id, phone)) => (true, request_id, lead_id, phone),
            None => (false, c.request_id.clone(), None, None),
        };
        let known = sh
            .db
            .outcome_recorded(&c.call_id)
            .await
            .map_err(|e| format!("could not look the call up: {e}"))?;
        if matched && !known {
            // Before the outcome is recorded, so a failure leaves the call unsettled for
            // Bland's retry; each step is idempotent (the flag found live, writes keyed by
            // the call id, the redial keyed by lead and number).
            self.follow_up(
                &c,
                request_id.as_deref(),
                lead_id.as_deref(),
                phone.as_deref(),
            )
            .await?;
        }
        let event = CallEvent::Outcome {
            timestamp: self.clock.now(),
            request_id: request_id.clone(),
            call_id: c.call_id.clone(),
            outcome: c.outcome,
            duration_s: c.duration_s,
            matched,
            lead_id,
            phone: phone.clone(),
            tags: c.tags.clone(),
            source: c.polled.then(|| "poll".to_string()),
        };
        let line = crate::journal::rows::call_line(&event, self.journals.date_of(event.at()));
        let fresh = sh
            .db
            .record_outcome(&line)
            .await
            .map_err(|e| format!("could not record the outcome: {e}"))?;
        if !fresh {
            return Ok((c, Completed::Duplicate));
        }
        self.tracker.apply(&event);
        if let Some(phone) = &phone {
            sh.hurry_line(phone, event.at()).await;
        }
        let done = match (matched, request_id) {
            (true, Some(request_id)) => Completed::Recorded { request_id },
            _ => {
                tracing::warn!(call_id = %c.call_id, "completion for a call we did not place; journaled as unmatched, no tracker changed");
                Completed::Unmatched
            }
        };
        Ok((c, done))
    }
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
