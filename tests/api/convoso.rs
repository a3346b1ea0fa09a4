//! Writing outcomes back to Convoso against a mock Convoso: the exact fields each outcome
//! sends, the answer classes (retry, final, "already exists"), the pending route with its
//! retry and dismiss actions, `/health` degrading after ten minutes of failures, the token
//! kept out of every message, and a do-not-call outcome flagging the number at once and
//! pushing it to Convoso's DNC list.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{eventually, spawn_app_with, TestApp};
use crate::intake::{live, post_lead};
use callgate::config::Secret;

pub const TOKEN: &str = "tok-SECRET-123";

pub async fn app_with_convoso(
    tweak: impl FnOnce(&mut callgate::config::Settings),
) -> (TestApp, MockServer) {
    let convoso = MockServer::start().await;
    let uri = convoso.uri();
    let app = spawn_app_with(|s| {
        live(s);
        s.convoso.api_url = uri;
        s.convoso.auth_token = Some(Secret::new(TOKEN));
        s.convoso.retry_base_ms = 1000;
        tweak(s);
    })
    .await;
    crate::intake::bland_takes(&app.bland).await;
    (app, convoso)
}

/// Posts a lead, waits for its call to be sent, posts Bland's completion; returns the
/// call id.
async fn call(app: &TestApp, n: u32, completion: Value) -> String {
    let lead = json!({"phone_number": format!("30555{:05}", 21000 + n), "lead_id": format!("L-{n}"), "list_id": "77"});
    let (_, body) = post_lead(app, lead).await;
    let id = body["request_id"].as_str().expect("accepted").to_string();
    crate::helpers::wait_sent(app, &id).await;
    let call_id = format!("call-{id}");
    let mut payload = completion;
    payload["call_id"] = json!(call_id);
    payload["metadata"] = json!({"request_id": id, "lead_id": format!("L-{n}"), "list_id": "77"});
    let res = app
        .client
        .post(app.url("/webhooks/bland"))
        .json(&payload)
        .send()
        .await
        .expect("completion");
    assert_eq!(res.status(), StatusCode::OK);
    call_id
}

/// Every request Convoso received on `p`, as form fields.
pub async fn received(convoso: &MockServer, p: &str) -> Vec<BTreeMap<String, String>> {
    convoso
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == p)
        .map(|r| {
            assert!(r.url.query().is_none(), "nothing in the URL: {}", r.url);
            serde_urlencoded::from_bytes(&r.body).expect("form body")
        })
        .collect()
}

pub async fn wait_received(
    convoso: &MockServer,
    p: &str,
    n: usize,
) -> Vec<BTreeMap<String, String>> {
    eventually(Duration::from_secs(10), || async {
        let got = received(convoso, p).await;
        (got.len() >= n).then_some(got)
    })
    .await
    .unwrap_or_else(|| panic!("Convoso never received {n} requests on {p}"))
}

/// Waits until no Convoso write is open (each one Convoso answered is recorded done).
async fn no_open_writes(app: &TestApp, what: &str) {
    eventually(Duration::from_secs(5), || async {
        let p = app.get_json("/api/admin/convoso/pending").await;
        (p["writes"] == json!([])).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("writes still open: {what}"));
}

pub fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"success": true, "data": {}}))
}

#[tokio::test]
async fn each_outcome_is_written_back_with_its_status_and_the_call_details() {
    let (app, convoso) = app_with_convoso(|s| s.convoso.transcript_max_chars = 20).await;
    Mock::given(method("POST"))
        .and(path("/v1/leads/update"))
        .respond_with(ok())
        .mount(&convoso)
        .await;
    let cases = [
        (
            json!({"answered_by": "human", "call_length": 3.0, "warm_transfer_call": {"state": "MERGED"}}),
            "ACA",
        ),
        (json!({"answered_by": "voicemail", "call_length": 0.5}), "A"),
        (json!({"answered_by": "no-answer"}), "NA"),
        (json!({"answered_by": "busy"}), "B"),
        (
            json!({"status": "failed", "error_message": "carrier error"}),
            "N",
        ),
        (
            json!({"answered_by": "human", "call_length": 1.0, "pathway_tags": [{"name": "Not Interested"}]}),
            "NI",
        ),
        (
            json!({"answered_by": "human", "call_length": 1.0, "disposition_tag": "callback"}),
            "CB",
        ),
        (
            json!({"answered_by": "human", "call_length": 2.0, "summary": "Talked about plans.", "recording_url": "https://rec.example/1.mp3",
                "concatenated_transcript": "user: hello there, I would like to hear more"}),
            "CD",
        ),
    ];
    let mut expected = BTreeMap::new();
    for (n, (completion, status)) in cases.iter().enumerate() {
        let call_id = call(&app, n as u32, completion.clone()).await;
        expected.insert(call_id, *status);
    }
    let got = wait_received(&convoso, "/v1/leads/update", cases.len()).await;
    assert_eq!(got.len(), cases.len(), "one update per outcome");
    for form in &got {
        let call_id = form.get("call_id").expect("call_id");
        assert_eq!(
            form.get("status").map(String::as_str),
            expected.get(call_id).copied(),
            "{form:?}"
        );
        assert_eq!(form["auth_token"], TOKEN);
        assert_eq!(form["list_id"], "77");
        assert!(form["lead_id"].starts_with("L-"));
    }
    let plain = got
        .iter()
        .find(|f| f["status"] == "CD")
        .expect("the human call");
    let want: BTreeMap<String, String> = [
        ("auth_token", TOKEN),
        ("call_id", plain["call_id"].as_str()),
        ("lead_id", "L-7"),
        ("list_id", "77"),
        ("status", "CD"),
        ("call_duration", "120"),
        ("answered_by", "human"),
        ("recording_url", "https://rec.example/1.mp3"),
        ("call_summary", "Talked about plans."),
        ("call_transcript", "user: hello there, I […]"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(plain, &want, "the exact fields of a human answer");
    // Convoso has answered; each write is then recorded as done.
    no_open_writes(&app, "every write done").await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("m")
        .text()
        .await
        .expect("t");
    assert!(
        metrics.contains("convoso_writes_total{kind=\"lead_update\",result=\"done\"} 8"),
        "{metrics}"
    );
}

#[tokio::test]
async fn failures_are_retried_or_given_up_by_class_shown_pending_and_retried_by_an_admin() {
    let (app, convoso) = app_with_convoso(|_| {}).await;
    // First a 503 (retried), then a business error as HTTP 200 (final), echoing the token.
    Mock::given(method("POST"))
        .and(path("/v1/leads/update"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&convoso)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/leads/update"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"success": false, "code": 6003, "text": format!("No such Lead for token {TOKEN}")}),
        ))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&convoso)
        .await;
    let call_id = call(&app, 1, json!({"answered_by": "voicemail"})).await;
    wait_received(&convoso, "/v1/leads/update", 1).await;
    let id = format!("lead_{call_id}");
    let failing = eventually(Duration::from_secs(5), || async {
        let p = app.get_json("/api/admin/convoso/pending").await;
        (p["failing"] == 1).then_some(p)
    })
    .await
    .expect("failing after the 503");
    assert!(
        failing["writes"][0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{failing}"
    );
    // Not tried again before its backoff; tried once the clock passes it.
    app.clock.advance(TimeDelta::seconds(2));
    let gave_up = eventually(Duration::from_secs(5), || async {
        let p = app.get_json("/api/admin/convoso/pending").await;
        (p["gave_up"] == 1).then_some(p)
    })
    .await
    .expect("gave up on the business error");
    let w = &gave_up["writes"][0];
    assert_eq!(w["id"], id.as_str());
    let error = w["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("6003") && error.contains("No such Lead"),
        "{error}"
    );
    assert!(
        !gave_up.to_string().contains(TOKEN),
        "the token never shows: {gave_up}"
    );
    assert_eq!(received(&convoso, "/v1/leads/update").await.len(), 2);
    // Ten minutes of failure degrade /health.
    assert_eq!(app.health().await["components"]["convoso"]["status"], "ok");
    app.clock.advance(TimeDelta::minutes(11));
    let h = app.wait_for_health("degraded").await;
    assert_eq!(h["components"]["convoso"]["status"], "degraded", "{h}");
    // An admin's retry, now that Convoso takes it.
    Mock::given(method("POST"))
        .and(path("/v1/leads/update"))
        .respond_with(ok())
        .mount(&convoso)
        .await;
    let res = app
        .admin(
            Method::POST,
            &format!("/api/admin/convoso/pending/{id}/retry"),
        )
        .send()
        .await
        .expect("retry");
    assert_eq!(res.status(), StatusCode::OK);
    no_open_writes(&app, "done after the retry").await;
    assert_eq!(received(&convoso, "/v1/leads/update").await.len(), 3);
    let res = app
        .admin(
            Method::POST,
            &format!("/api/admin/convoso/pending/{id}/retry"),
        )
        .send()
        .await
        .expect("retry");
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "a done write is not open"
    );
}

#[tokio::test]
async fn a_do_not_call_outcome_flags_the_number_at_once_and_pushes_it_to_convoso_once() {
    let (app, convoso) = app_with_convoso(|s| s.convoso.push_dnc = true).await;
    Mock::given(method("POST"))
        .and(path("/v1/leads/update"))
        .respond_with(ok())
        .mount(&convoso)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/dnc/insert"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"success": false, "code": 6008, "text": "Phone number already exists"}),
        ))
        .mount(&convoso)
        .await;
    let completion =
        json!({"answered_by": "human", "call_length": 0.5, "pathway_tags": ["Do Not Call"]});
    let call_id = call(&app, 3, completion.clone()).await;
    // The next lead for that number is blocked at once, by a flag the outcome added.
    let (_, next) = post_lead(
        &app,
        json!({"phone_number": "(305) 552-1003", "lead_id": "L-9"}),
    )
    .await;
    assert_eq!(next["decision"], "blocked", "{next}");
    let found = app.get_json("/api/admin/blocklist").await;
    let flag = found["flags"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["value"] == "+13055521003"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(flag["added_by"], "outcome", "{found}");
    assert!(
        flag["reason"]
            .as_str()
            .is_some_and(|r| r.contains(&call_id)),
        "{found}"
    );
    let update = wait_received(&convoso, "/v1/leads/update", 1).await;
    assert_eq!(update[0]["status"], "DNC");
    let dnc = wait_received(&convoso, "/v1/dnc/insert", 1).await;
    let want: BTreeMap<String, String> = [
        ("auth_token", TOKEN.to_string()),
        ("phone_number", "3055521003".to_string()),
        ("phone_code", "1".to_string()),
        ("campaign_id", "0".to_string()),
        ("reason", format!("do-not-call from call {call_id}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(dnc[0], want);
    // "Already exists" counts as done; Bland repeating the completion changes nothing.
    no_open_writes(&app, "both writes done").await;
    let mut repeat = completion;
    repeat["call_id"] = json!(call_id);
    let res: Value = app
        .client
        .post(app.url("/webhooks/bland"))
        .json(&repeat)
        .send()
        .await
        .expect("repeat")
        .json()
        .await
        .expect("json");
    assert_eq!(res["status"], "duplicate", "{res}");
    let p = app.get_json("/api/admin/convoso/pending").await;
    assert_eq!(p["writes"], json!([]), "nothing queued again: {p}");
    assert_eq!(received(&convoso, "/v1/leads/update").await.len(), 1);
    assert_eq!(received(&convoso, "/v1/dnc/insert").await.len(), 1);
}

#[tokio::test]
async fn blocks_by_chosen_stages_are_written_back_and_others_are_not() {
    let (app, convoso) = app_with_convoso(|s| {
        s.convoso.write_blocked_stages = vec!["blocklist".into()];
    })
    .await;
    Mock::given(method("POST"))
        .and(path("/v1/leads/update"))
        .respond_with(ok())
        .mount(&convoso)
        .await;
    let res = app
        .post_json(
            "/api/admin/blocklist",
            json!({"field": "phone", "value": "3055559001", "reason": "asked"}),
        )
        .await;
    assert!(res.status().is_success());
    let (_, blocked) = post_lead(
        &app,
        json!({"phone_number": "3055559001", "lead_id": "B-1", "list_id": "12"}),
    )
    .await;
    assert_eq!(blocked["decision"], "blocked");
    let got = wait_received(&convoso, "/v1/leads/update", 1).await;
    let want: BTreeMap<String, String> = [
        ("auth_token", TOKEN),
        ("lead_id", "B-1"),
        ("list_id", "12"),
        ("status", "BLOCK"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(got[0], want);
    // A stage not chosen (protection: a fictional number) writes nothing back.
    let (_, other) = post_lead(
        &app,
        json!({"phone_number": "3055550123", "lead_id": "B-2"}),
    )
    .await;
    assert_eq!(
        (other["decision"].clone(), other["stage"].clone()),
        (json!("blocked"), json!("protection"))
    );
    // Nothing open once the first write is done: the second block queued nothing.
    no_open_writes(&app, "nothing open").await;
    assert_eq!(received(&convoso, "/v1/leads/update").await.len(), 1);
}
