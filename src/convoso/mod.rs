//! Convoso's REST API, the two calls callgate makes: `POST /v1/leads/update` (an outcome
//! written back to the lead) and `POST /v1/dnc/insert` (a do-not-call request). The auth
//! token and every field go in a form body (Convoso takes "RAW" url-encoded posts), never
//! in the URL: so the token cannot reach a log line, a proxy's access log or an error
//! message, and a long transcript cannot overflow a URL.
//!
//! Convoso answers business errors as HTTP 200 with `success: false` and a numeric `code`;
//! [`classify`] sorts every answer into done, retry or final — an answer that does not say
//! `success: true` is never taken for success.

pub mod params;
pub mod writes;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::config::convoso::ConvosoSettings;
use crate::config::Secret;
pub use writes::{Write, WriteKind, WriteState};

/// What one try of a write came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// Convoso has it (`note`: e.g. "already exists").
    Done { note: Option<String> },
    /// Not taken, worth trying again (network, 5xx, 429, a rate-limit message).
    Retry(String),
    /// Refused for good (a bad lead id, a bad number): kept for an admin.
    Final(String),
}

pub struct ConvosoClient {
    http: reqwest::Client,
    base: String,
    token: Option<Secret>,
}

/// Convoso's "already exists" (a DNC entry that is there already): the write is done.
const ALREADY_EXISTS: [i64; 1] = [6008];

impl ConvosoClient {
    pub fn new(settings: &ConvosoSettings) -> Result<Self, reqwest::Error> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let timeout = Duration::from_secs(settings.timeout_secs);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5).min(timeout))
            .build()?;
        Ok(Self {
            http,
            base: settings.api_url.trim_end_matches('/').to_string(),
            token: settings.auth_token.clone(),
        })
    }

    /// No token: writes are logged, not sent.
    pub fn dry_run(&self) -> bool {
        self.token.is_none()
    }

    fn url(&self, kind: WriteKind) -> String {
        match kind {
            WriteKind::LeadUpdate => format!("{}/v1/leads/update", self.base),
            WriteKind::DncInsert => format!("{}/v1/dnc/insert", self.base),
        }
    }

    /// One try. With no token, `None` (dry-run: nothing sent).
    pub async fn send(&self, kind: WriteKind, params: &BTreeMap<String, String>) -> Option<Sent> {
        let token = self.token.as_ref()?;
        let mut form: Vec<(&str, &str)> = vec![("auth_token", token.expose())];
        form.extend(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let body = match serde_urlencoded::to_string(&form) {
            Ok(b) => b,
            Err(e) => return Some(Sent::Final(format!("cannot encode the fields: {e}"))),
        };
        let answer = self
            .http
            .post(self.url(kind))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await;
        let response = match answer {
            Ok(r) => r,
            Err(e) => return Some(Sent::Retry(self.redact(&e.without_url().to_string()))),
        };
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        Some(classify(status.as_u16(), &self.redact(&text)))
    }

    /// The token never leaves in a message, even if an answer echoes it.
    fn redact(&self, text: &str) -> String {
        match &self.token {
            Some(t) if !t.expose().is_empty() => text.replace(t.expose(), "***"),
            _ => text.to_string(),
        }
    }
}

/// Sorts an answer: 429 and 5xx retry; other non-2xx are final; a 2xx must say
/// `success: true` (or carry an "already exists" code) to be done — `success: false` is
/// final unless its message says to try again later, and an unreadable 2xx is retried.
pub fn classify(status: u16, body: &str) -> Sent {
    let short: String = body.chars().take(300).collect();
    if status == 429 || status >= 500 {
        return Sent::Retry(format!("HTTP {status}: {short}"));
    }
    if !(200..300).contains(&status) {
        return Sent::Final(format!("HTTP {status}: {short}"));
    }
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return Sent::Retry(format!(
            "HTTP {status} with an answer that is not JSON: {short}"
        ));
    };
    let success = match v.get("success") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    if success {
        return Sent::Done { note: None };
    }
    let code = v.get("code").and_then(|c| {
        c.as_i64()
            .or_else(|| c.as_str().and_then(|s| s.trim().parse().ok()))
    });
    let message = ["text", "error", "message"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .unwrap_or("no message")
        .to_string();
    let described = match code {
        Some(c) => format!("Convoso code {c}: {message}"),
        None => format!("Convoso: {message}"),
    };
    let lower = message.to_ascii_lowercase();
    if code.is_some_and(|c| ALREADY_EXISTS.contains(&c)) || lower.contains("already exist") {
        return Sent::Done {
            note: Some(described),
        };
    }
    if ["too many", "rate limit", "try again", "temporar", "timeout"]
        .iter()
        .any(|w| lower.contains(w))
    {
        return Sent::Retry(described);
    }
    Sent::Final(described)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_sorted_and_never_taken_for_success_by_accident() {
        assert_eq!(
            classify(200, r#"{"success":true}"#),
            Sent::Done { note: None }
        );
        assert!(
            matches!(classify(200, r#"{"success":false,"code":6008,"text":"Phone number already exists"}"#), Sent::Done { note: Some(n) } if n.contains("6008"))
        );
        assert!(
            matches!(classify(200, r#"{"success":false,"code":6007,"text":"Invalid phone"}"#), Sent::Final(m) if m.contains("6007") && m.contains("Invalid phone"))
        );
        assert!(matches!(
            classify(200, r#"{"success":false,"text":"Too many requests"}"#),
            Sent::Retry(_)
        ));
        assert!(
            matches!(classify(200, r#"{"code":200}"#), Sent::Final(_)),
            "no success field"
        );
        assert!(matches!(
            classify(200, "<html>gateway</html>"),
            Sent::Retry(_)
        ));
        assert!(matches!(classify(429, ""), Sent::Retry(_)));
        assert!(matches!(classify(503, "down"), Sent::Retry(_)));
        assert!(matches!(classify(401, "bad token"), Sent::Final(_)));
    }
}
