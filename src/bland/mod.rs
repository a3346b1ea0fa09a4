//! Bland AI, our one call provider: the client (reqwest lives here and in the CLI, nowhere
//! else), the call body, the completion's fields (`completion`), and the
//! [`crate::provider::CallProvider`] implementation (`provider`).
//!
//! Every send ends in one of five results, chosen so that one lead never becomes two
//! calls: `Queued` (Bland took it), `Retry` (Bland certainly did not take it: the
//! connection was never made, 502/503/504), `Throttled` (a 429: not taken, and the
//! account is limited, so the whole deployment pauses), `Failed` (Bland refused it: any
//! other 4xx), `Unconfirmed` (it may have been taken: a timeout or a dropped connection
//! after the request was written, a 500, a 2xx without `call_id`) — never retried blindly.

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::config::{BlandSettings, Secret};
use crate::domain::Lead;
pub use crate::provider::{ProviderError, SendResult, REDIAL_FIELD};

pub mod completion;
pub mod provider;
pub use provider::Bland;

/// Longest `Retry-After` we honour.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// Fills `{{field}}` placeholders with the lead's values (see [`Lead::fill`]).
pub fn fill(template: &str, lead: &Lead) -> String {
    lead.fill(template)
}

/// The `POST /v1/calls` body for a lead. `from` is the caller id picked for this call.
pub fn call_body(
    b: &BlandSettings,
    public_base_url: Option<&str>,
    lead: &Lead,
    request_id: &str,
    from: Option<&str>,
) -> Value {
    let mut body = Map::new();
    for (k, v) in &b.extra {
        body.insert(k.clone(), v.clone());
    }
    let mut set = |k: &str, v: Value| {
        body.insert(k.to_string(), v);
    };
    set("phone_number", json!(lead.phone.as_str()));
    match (&b.pathway_id, &b.task) {
        (Some(pathway), _) => set("pathway_id", json!(pathway)),
        (None, Some(task)) => set("task", json!(task)),
        (None, None) => {}
    }
    if let Some(from) = from {
        set("from", json!(from));
    }
    if let Some(voice) = &b.voice {
        set("voice", json!(voice));
    }
    if let Some(first) = &b.first_sentence {
        set("first_sentence", json!(first));
    }
    set("max_duration", json!(b.max_duration));
    set("record", json!(b.record));
    set("wait_for_greeting", json!(b.wait_for_greeting));
    set("answered_by_enabled", json!(true));
    if let Some(message) = &b.voicemail_message {
        set(
            "voicemail",
            json!({"message": fill(message, lead), "action": b.voicemail_action}),
        );
    }
    if let Some(base) = public_base_url {
        set("webhook", json!(format!("{base}/webhooks/bland")));
    }
    let mut metadata = Map::new();
    metadata.insert("request_id".into(), json!(request_id));
    metadata.insert("lead_id".into(), json!(lead.lead_id));
    if let Some(list) = lead.field("list_id") {
        metadata.insert("list_id".into(), json!(list));
    }
    // A redial carries its number in a field of ours: into the metadata Bland echoes, out
    // of what the agent sees.
    if let Some(n) = lead.fields.get(REDIAL_FIELD) {
        metadata.insert("redial".into(), n.clone());
    }
    set("metadata", Value::Object(metadata));
    let mut data = lead.fields.clone();
    data.retain(|k, _| !k.starts_with("_callgate"));
    set("request_data", Value::Object(data));
    Value::Object(body)
}

pub struct BlandClient {
    http: reqwest::Client,
    calls_url: String,
    sms_url: String,
    key: Secret,
}

impl BlandClient {
    pub fn new(api_url: &str, key: Secret, timeout: Duration) -> Result<Self, reqwest::Error> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5).min(timeout))
            .build()?;
        Ok(Self {
            http,
            calls_url: format!("{}/v1/calls", api_url.trim_end_matches('/')),
            sms_url: format!("{}/v1/sms/send", api_url.trim_end_matches('/')),
            key,
        })
    }

    /// Calls Bland lists for `to_number` (`GET /v1/calls?to_number=…`), newest first as
    /// Bland gives them; at most `limit`.
    pub async fn calls_to(&self, to_number: &str, limit: u32) -> Result<Vec<Value>, ProviderError> {
        let limit = limit.to_string();
        let query = [
            ("to_number", to_number),
            ("from", "0"),
            ("to", limit.as_str()),
        ];
        let v = self
            .get_json(self.calls_url.clone(), &query)
            .await?
            .unwrap_or_default();
        Ok(["calls", "data"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_array))
            .cloned()
            .unwrap_or_default())
    }

    /// One call's details (`GET /v1/calls/{id}`); `None` when Bland has no such call.
    pub async fn call(&self, call_id: &str) -> Result<Option<Value>, ProviderError> {
        if call_id.is_empty()
            || !call_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(ProviderError::BadCallId(call_id.to_string()));
        }
        self.get_json(format!("{}/{call_id}", self.calls_url), &[])
            .await
    }

    /// A GET of Bland's API: its JSON, `None` on 404, `Err` naming any other failure
    /// (never the URL).
    async fn get_json(
        &self,
        url: String,
        query: &[(&str, &str)],
    ) -> Result<Option<Value>, ProviderError> {
        let answer = self
            .http
            .get(url)
            .header("authorization", self.key.expose())
            .query(query)
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(e.without_url().to_string()))?;
        let status = answer.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let v: Value = answer
            .json()
            .await
            .map_err(|e| ProviderError::Unavailable(e.without_url().to_string()))?;
        if !status.is_success() {
            return Err(ProviderError::Unavailable(format!("HTTP {status}: {v}")));
        }
        Ok(Some(v))
    }

    /// `POST /v1/sms/send`: `user_number` (the recipient), `agent_number` (ours),
    /// `agent_message`, and our id in `request_data`.
    pub async fn send_text(
        &self,
        t: &crate::provider::TextMessage<'_>,
    ) -> crate::provider::TextResult {
        use crate::provider::TextResult;
        let body = json!({"user_number": t.to, "agent_number": t.from, "agent_message": t.body,
            "request_data": {"callgate_text_id": t.id}});
        let response = self
            .http
            .post(&self.sms_url)
            .header("authorization", self.key.expose())
            .json(&body)
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                return TextResult::Retry {
                    why: format!("connection failed: {}", e.without_url()),
                }
            }
            Err(e) => {
                return TextResult::Unconfirmed {
                    why: format!("no answer after sending: {}", e.without_url()),
                }
            }
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let message = || -> String {
            ["message", "error", "errors"]
                .iter()
                .find_map(|k| {
                    parsed
                        .get(*k)
                        .filter(|m| !m.is_null())
                        .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_string))
                })
                .unwrap_or_else(|| text.chars().take(300).collect())
        };
        match status {
            200..=299 => TextResult::Sent {
                id: ["conversation_id", "message_id", "id"]
                    .iter()
                    .find_map(|k| parsed["data"].get(*k).and_then(Value::as_str))
                    .map(str::to_string),
            },
            429 | 502..=504 => TextResult::Retry {
                why: format!("Bland did not take the text ({status}): {}", message()),
            },
            400..=499 => TextResult::Failed {
                status,
                message: message(),
            },
            _ => TextResult::Unconfirmed {
                why: format!("Bland answered {status}: {}", message()),
            },
        }
    }

    pub async fn send(&self, body: &Value) -> SendResult {
        let response = self
            .http
            .post(&self.calls_url)
            .header("authorization", self.key.expose())
            .json(body)
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            // No connection was made: the request was never written.
            Err(e) if e.is_connect() => {
                return SendResult::Retry {
                    after: None,
                    why: format!("connection failed: {e}"),
                }
            }
            Err(e) if e.is_timeout() => {
                return SendResult::Unconfirmed {
                    why: format!("no answer in time: {e}"),
                }
            }
            Err(e) => {
                return SendResult::Unconfirmed {
                    why: format!("connection lost after sending: {e}"),
                }
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        let text = response.text().await.unwrap_or_default();
        let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let message = ["message", "error", "errors"]
            .iter()
            .find_map(|k| {
                parsed
                    .get(*k)
                    .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_string))
            })
            .unwrap_or_else(|| text.chars().take(300).collect());
        match status {
            200..=299 => match parsed.get("call_id").and_then(Value::as_str) {
                Some(id) if !id.is_empty() => SendResult::Queued {
                    call_id: id.to_string(),
                },
                _ => SendResult::Unconfirmed {
                    why: format!("Bland answered {status} without a call_id: {message}"),
                },
            },
            429 => SendResult::Throttled {
                after: retry_after,
                why: format!("rate limited (429): {message}"),
            },
            502..=504 => SendResult::Retry {
                after: retry_after,
                why: format!("Bland unavailable ({status}): {message}"),
            },
            400..=499 => SendResult::Failed { status, message },
            _ => SendResult::Unconfirmed {
                why: format!("Bland answered {status}: {message}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead() -> Lead {
        let map = json!({"phone_number": "305-555-1234", "lead_id": "7", "list_id": "99", "first_name": "Ada"});
        Lead::parse(
            map.as_object().cloned().unwrap_or_default(),
            &Default::default(),
            "US",
        )
        .expect("lead")
    }

    #[test]
    fn placeholders_are_filled_from_the_lead() {
        assert_eq!(
            fill("Hi {{first_name}}, {{ lead_id }} {{unknown}} {{", &lead()),
            "Hi Ada, 7 {{unknown}} {{"
        );
    }

    #[test]
    fn the_body_has_every_configured_part() {
        let mut b = crate::config::Settings::defaults().bland;
        b.pathway_id = Some("pw".into());
        b.task = Some("ignored with a pathway".into());
        b.voicemail_message = Some("Sorry we missed you, {{first_name}}".into());
        b.extra.insert("language".into(), json!("en"));
        b.extra.insert("phone_number".into(), json!("+10000000000"));
        let body = call_body(
            &b,
            Some("https://gw.example"),
            &lead(),
            "req_1",
            Some("+13055550000"),
        );
        assert_eq!(body["phone_number"], "+13055551234");
        assert_eq!(body["pathway_id"], "pw");
        assert!(body.get("task").is_none());
        assert_eq!(body["from"], "+13055550000");
        assert_eq!(body["max_duration"], 30);
        assert_eq!(body["answered_by_enabled"], true);
        assert_eq!(
            body["voicemail"],
            json!({"message": "Sorry we missed you, Ada", "action": "leave_message"})
        );
        assert_eq!(body["webhook"], "https://gw.example/webhooks/bland");
        assert_eq!(
            body["metadata"],
            json!({"request_id": "req_1", "lead_id": "7", "list_id": "99"})
        );
        assert_eq!(body["request_data"]["first_name"], "Ada");
        assert_eq!(body["language"], "en");
    }
}
