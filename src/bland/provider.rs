//! Bland as our [`CallProvider`]: the call body, the send, the call list and details read
//! into our types, the completion webhook and its HMAC-SHA256 signature
//! (`X-Webhook-Signature`, hex, any of the configured secrets).

use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::{call_body, BlandClient};
use crate::config::{BlandSettings, Secret};
use crate::domain::Lead;
use crate::provider::{
    CallDetails, CallProvider, Completion, ListedCall, ProviderError, SendResult,
};

/// Calls asked of Bland per number.
const LIST_LIMIT: u32 = 50;

pub struct Bland {
    /// `None`: no `BLAND_API_KEY`, dry run.
    client: Option<BlandClient>,
    settings: BlandSettings,
    public_base_url: Option<String>,
}

impl Bland {
    pub fn new(
        client: Option<BlandClient>,
        settings: BlandSettings,
        public_base_url: Option<String>,
    ) -> Self {
        Self {
            client,
            settings,
            public_base_url,
        }
    }

    fn client(&self) -> Result<&BlandClient, ProviderError> {
        self.client.as_ref().ok_or(ProviderError::DryRun)
    }
}

/// `metadata.request_id` of a call as Bland shows it.
fn request_id_of(call: &Value) -> Option<String> {
    call.get("metadata")
        .and_then(|m| m.get("request_id"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn call_id_of(call: &Value) -> Option<&str> {
    call.get("call_id")
        .or_else(|| call.get("c_id"))
        .and_then(Value::as_str)
}

/// Whether Bland's call details describe a finished call.
fn finished(call: &Value) -> bool {
    call.get("completed").and_then(Value::as_bool) == Some(true)
        || call.get("status").and_then(Value::as_str).is_some_and(|s| {
            matches!(
                s.to_ascii_lowercase().as_str(),
                "completed" | "failed" | "busy" | "no-answer" | "no_answer" | "canceled"
            )
        })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    let s = s.strip_prefix("sha256=").unwrap_or(s);
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whether `signature` is the hex HMAC-SHA256 of `body` under one of `secrets` (each is
/// compared in constant time).
pub fn signature_ok(secrets: &[Secret], body: &[u8], signature: Option<&str>) -> bool {
    let Some(given) = signature.and_then(unhex) else {
        return false;
    };
    secrets.iter().fold(false, |ok, secret| {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
            return ok;
        };
        mac.update(body);
        mac.verify_slice(&given).is_ok() | ok
    })
}

impl CallProvider for Bland {
    fn live(&self) -> bool {
        self.client.is_some()
    }

    fn call_body(&self, lead: &Lead, request_id: &str, from: Option<&str>) -> Value {
        call_body(
            &self.settings,
            self.public_base_url.as_deref(),
            lead,
            request_id,
            from,
        )
    }

    fn with_from(&self, body: &Value, from: &str) -> Value {
        let mut body = body.clone();
        if let Some(obj) = body.as_object_mut() {
            obj.insert("from".into(), Value::String(from.to_string()));
        }
        body
    }

    fn redial_of(&self, body: &Value) -> Option<u64> {
        body["metadata"]["redial"].as_u64()
    }

    fn lead_fields_of(&self, body: &Value) -> Option<serde_json::Map<String, Value>> {
        body.get("request_data").and_then(Value::as_object).cloned()
    }

    fn place<'a>(&'a self, body: &'a Value) -> BoxFuture<'a, SendResult> {
        Box::pin(async move {
            match self.client() {
                Ok(c) => c.send(body).await,
                Err(why) => SendResult::Failed {
                    status: 0,
                    message: why.to_string(),
                },
            }
        })
    }

    fn calls_to<'a>(
        &'a self,
        phone: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ListedCall>, ProviderError>> {
        Box::pin(async move {
            let listed = self.client()?.calls_to(phone, LIST_LIMIT).await?;
            Ok(listed
                .iter()
                .filter_map(|call| {
                    Some(ListedCall {
                        call_id: call_id_of(call)?.to_string(),
                        request_id: request_id_of(call),
                    })
                })
                .collect())
        })
    }

    fn call<'a>(
        &'a self,
        call_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<CallDetails>, ProviderError>> {
        Box::pin(async move {
            let Some(mut details) = self.client()?.call(call_id).await? else {
                return Ok(None);
            };
            let request_id = request_id_of(&details);
            let completion = if finished(&details) {
                if details.get("call_id").is_none() {
                    details["call_id"] = Value::String(call_id.to_string());
                }
                Some(super::completion::parse(&details)?)
            } else {
                None
            };
            Ok(Some(CallDetails {
                request_id,
                completion,
            }))
        })
    }

    fn parse_completion(&self, payload: &Value) -> Result<Completion, ProviderError> {
        super::completion::parse(payload)
    }

    fn signature_header(&self) -> &'static str {
        "x-webhook-signature"
    }

    fn verify(&self, body: &[u8], signature: Option<&str>) -> bool {
        self.settings.webhook_secrets.is_empty()
            || signature_ok(&self.settings.webhook_secrets, body, signature)
    }

    fn send_text<'a>(
        &'a self,
        text: &'a crate::provider::TextMessage<'a>,
    ) -> BoxFuture<'a, crate::provider::TextResult> {
        Box::pin(async move {
            match &self.client {
                Some(c) => c.send_text(text).await,
                None => {
                    tracing::info!(
                        text_id = text.id,
                        to = text.to,
                        from = text.from,
                        body = text.body,
                        "dry run: no BLAND_API_KEY, the text is logged, not sent"
                    );
                    crate::provider::TextResult::DryRun
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bland(secrets: &[&str]) -> Bland {
        let mut s = crate::config::Settings::defaults().bland;
        s.webhook_secrets = secrets.iter().map(|k| Secret::new(*k)).collect();
        Bland::new(None, s, None)
    }

    #[test]
    fn bland_fields_stay_here_and_our_types_come_out() {
        let b = bland(&[]);
        assert!(!b.live(), "no key: a dry run");
        let body = json!({"metadata": {"request_id": "req_1", "redial": 2},
            "request_data": {"lead_id": "7", "state": "FL"}});
        assert_eq!(b.redial_of(&body), Some(2));
        assert_eq!(b.lead_fields_of(&body).expect("fields")["state"], "FL");
        assert_eq!(request_id_of(&body).as_deref(), Some("req_1"));
        assert!(finished(&json!({"status": "no-answer"})));
        assert!(finished(&json!({"completed": true})));
        assert!(!finished(&json!({"status": "in-progress"})));
        let c = b
            .parse_completion(
                &json!({"call_id": "c1", "answered_by": "voicemail", "call_length": 0.5}),
            )
            .expect("completion");
        assert_eq!((c.call_id.as_str(), c.duration_s), ("c1", Some(30.0)));
    }

    #[test]
    fn a_signature_is_checked_only_when_a_secret_is_set() {
        let body = br#"{"call_id":"c1"}"#;
        assert!(bland(&[]).verify(body, None));
        let signed = bland(&["old", "new"]);
        let mut mac = Hmac::<Sha256>::new_from_slice(b"new").expect("key");
        mac.update(body);
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(signed.verify(body, Some(&hex)));
        assert!(signed.verify(body, Some(&format!("sha256={hex}"))));
        assert!(!signed.verify(body, Some("00")));
        assert!(!signed.verify(body, None));
        assert!(!signed.verify(b"{}", Some(&hex)), "another body");
    }
}
