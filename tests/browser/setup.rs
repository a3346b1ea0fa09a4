//! What the browser tests share: a server whose mock Bland takes every call, and posting
//! JSON the way Convoso and Bland do.

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

use crate::helpers::{spawn_app_with, TestApp};

/// Bland takes every call, as `call-<request id>`.
pub struct Takes;

impl Respond for Takes {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let id = body["metadata"]["request_id"].as_str().unwrap_or("none");
        ResponseTemplate::new(200)
            .set_body_json(json!({"status": "success", "call_id": format!("call-{id}")}))
    }
}

/// A live server (a Bland key set) whose mock Bland takes every call.
pub async fn bland_takes_calls() -> TestApp {
    let app = spawn_app_with(|s| {
        s.bland.api_key = Some(callgate::config::Secret::new("bland-test-key"));
        s.bland.max_calls_per_second = 1000.0;
    })
    .await;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Takes)
        .mount(&app.bland)
        .await;
    app
}

/// POSTs `body` as JSON and returns the JSON answer (whatever its status).
pub async fn post(app: &TestApp, path: &str, body: Value) -> Value {
    app.post_json(path, body)
        .await
        .json()
        .await
        .unwrap_or(Value::Null)
}
