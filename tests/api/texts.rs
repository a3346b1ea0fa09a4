//! Text follow-ups on the real server (the injected clock: Monday 2026-11-23, 10:00 in New
//! York) against a mock Bland: a voicemail starts the sequence, each text at its day gap
//! and inside the recipient's window (20:59 goes, 21:01 waits for the morning), the
//! template filled from the lead (a missing field drops the text, never sends
//! `{{first_name}}`), a flagged number never texted, and an opt-out cancelling what is
//! pending and confirmed by one text. Every step in the call journal.

use std::time::Duration;

use chrono::TimeDelta;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{eventually, spawn_app_with, TestApp};
use crate::intake::{bland_takes, live, post_lead};

const FROM: &str = "+13125550123";

async fn app() -> TestApp {
    let app = spawn_app_with(|s| {
        live(s);
        s.sms.enabled = true;
        s.sms.from = Some(FROM.into());
        s.sms.day_gaps = vec![0, 1];
        s.sms.max_per_day = 2;
        s.sms.messages = vec![
            "Hi {{first_name}}, sorry we missed you.".into(),
            "Still interested, {{first_name}}?".into(),
        ];
    })
    .await;
    bland_takes(&app.bland).await;
    Mock::given(method("POST"))
        .and(path("/v1/sms/send"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"data": {"message": "ok", "conversation_id": "conv-1"}, "errors": null}),
        ))
        .mount(&app.bland)
        .await;
    app
}

/// The texts Bland received, in order.
async fn texts(app: &TestApp) -> Vec<Value> {
    app.bland
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/v1/sms/send")
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

async fn wait_texts(app: &TestApp, n: usize) -> Vec<Value> {
    eventually(Duration::from_secs(10), || async {
        let got = texts(app).await;
        (got.len() >= n).then_some(got)
    })
    .await
    .unwrap_or_else(|| panic!("Bland did not receive {n} texts"))
}

async fn text_rounds(app: &TestApp) -> u64 {
    let m = app.get_text("/metrics").await;
    m.lines()
        .find_map(|l| l.strip_prefix("callgate_text_rounds_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Two sender rounds have ended since the call: every text due now was handled.
async fn texts_settled(app: &TestApp) {
    let start = text_rounds(app).await;
    eventually(Duration::from_secs(10), || async {
        (text_rounds(app).await >= start + 2).then_some(())
    })
    .await
    .expect("the text sender ran");
}

/// A lead posted and called; its request id.
async fn called(app: &TestApp, lead: Value) -> String {
    let (_, body) = post_lead(app, lead).await;
    assert_eq!(body["decision"], "accepted", "{body}");
    let rid = body["request_id"].as_str().expect("id").to_string();
    crate::helpers::wait_sent(app, &rid).await;
    rid
}

async fn voicemail(app: &TestApp, rid: &str, lead_id: &str, first_name: Option<&str>) {
    let mut data = json!({"lead_id": lead_id});
    if let Some(n) = first_name {
        data["first_name"] = json!(n);
    }
    let payload = json!({"call_id": format!("call-{rid}"), "answered_by": "voicemail", "call_length": 0.3,
        "metadata": {"request_id": rid, "lead_id": lead_id}, "request_data": data});
    let (status, body) = app.post_completion(&payload).await;
    assert_eq!(status, 200, "{body}");
}

async fn journal_texts(app: &TestApp, date: &str, phone: &str) -> Vec<Value> {
    app.calls(date)
        .await
        .into_iter()
        .filter(|l| l["event"].as_str().unwrap_or("").starts_with("sms_") && l["phone"] == phone)
        .collect()
}

#[tokio::test]
async fn a_voicemail_starts_the_sequence_and_each_text_goes_at_its_day_gap() {
    let app = app().await;
    let rid = called(
        &app,
        json!({"phone_number": "2125553101", "lead_id": "T-1", "first_name": "Ann"}),
    )
    .await;
    voicemail(&app, &rid, "T-1", Some("Ann")).await;
    let sent = wait_texts(&app, 1).await;
    assert_eq!(
        sent[0],
        json!({"user_number": "+12125553101", "agent_number": FROM, "agent_message": "Hi Ann, sorry we missed you.",
            "request_data": {"callgate_text_id": format!("sms_{rid}_1")}})
    );
    // The send is journaled once Bland has answered.
    texts_settled(&app).await;
    let lines = journal_texts(&app, "2026-11-23", "+12125553101").await;
    let events: Vec<&str> = lines.iter().filter_map(|l| l["event"].as_str()).collect();
    assert_eq!(
        events,
        ["sms_scheduled", "sms_scheduled", "sms_sent"],
        "{lines:?}"
    );
    assert_eq!(lines[2]["provider_id"], "conv-1");
    // A minute before the day gap: nothing; at it: the second text.
    app.clock
        .advance(TimeDelta::days(1) - TimeDelta::minutes(1));
    texts_settled(&app).await;
    assert_eq!(texts(&app).await.len(), 1);
    app.clock.advance(TimeDelta::minutes(1));
    let sent = wait_texts(&app, 2).await;
    assert_eq!(sent[1]["agent_message"], "Still interested, Ann?");
    // A repeated completion schedules nothing again.
    voicemail(&app, &rid, "T-1", Some("Ann")).await;
    texts_settled(&app).await;
    let lines = journal_texts(&app, "2026-11-24", "+12125553101").await;
    assert_eq!(lines.len(), 1, "only the second text's send: {lines:?}");
    // The pipeline statistics count them, in JSON and CSV.
    let q = "/api/admin/statistics?start=2026-11-23&end=2026-11-24";
    let total = app.get_json(q).await["total"].clone();
    assert_eq!(
        (&total["texts_scheduled"], &total["texts_sent"]),
        (&json!(2), &json!(2)),
        "{total}"
    );
    let csv = app
        .admin(reqwest::Method::GET, &format!("{q}&format=csv"))
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    let header: Vec<&str> = csv.lines().next().unwrap_or("").split(',').collect();
    let total_row: Vec<&str> = csv.lines().last().unwrap_or("").split(',').collect();
    let sent = header
        .iter()
        .position(|h| *h == "texts_sent")
        .expect("a texts_sent column");
    assert_eq!(total_row[sent], "2", "{csv}");
}

#[tokio::test]
async fn a_text_goes_at_20_59_local_but_at_21_01_waits_for_the_morning() {
    let app = app().await;
    let early = called(
        &app,
        json!({"phone_number": "2125553111", "lead_id": "W-1", "first_name": "Bo"}),
    )
    .await;
    let late = called(
        &app,
        json!({"phone_number": "2125553112", "lead_id": "W-2", "first_name": "Cy"}),
    )
    .await;
    app.clock.advance(TimeDelta::minutes(10 * 60 + 59));
    voicemail(&app, &early, "W-1", Some("Bo")).await;
    let sent = wait_texts(&app, 1).await;
    assert_eq!(sent[0]["user_number"], "+12125553111");
    app.clock.advance(TimeDelta::minutes(2));
    voicemail(&app, &late, "W-2", Some("Cy")).await;
    texts_settled(&app).await;
    assert_eq!(texts(&app).await.len(), 1, "21:01 in New York: no text");
    // 08:00 the next morning.
    app.clock.advance(TimeDelta::minutes(10 * 60 + 59));
    let sent = wait_texts(&app, 2).await;
    assert_eq!(sent[1]["user_number"], "+12125553112");
}

#[tokio::test]
async fn a_flagged_number_and_a_missing_field_are_never_texted_and_a_stop_cancels_the_rest() {
    let app = app().await;
    // Flagged after its call was placed.
    let flagged = called(
        &app,
        json!({"phone_number": "2125553121", "lead_id": "F-1", "first_name": "Di"}),
    )
    .await;
    let res = app
        .post_json(
            "/api/admin/blocklist",
            json!({"field": "phone", "value": "2125553121", "reason": "asked"}),
        )
        .await;
    assert!(res.status().is_success());
    voicemail(&app, &flagged, "F-1", Some("Di")).await;
    // No first name to fill the template with.
    let nameless = called(
        &app,
        json!({"phone_number": "2125553122", "lead_id": "F-2"}),
    )
    .await;
    voicemail(&app, &nameless, "F-2", None).await;
    texts_settled(&app).await;
    assert!(texts(&app).await.is_empty(), "{:?}", texts(&app).await);
    let blocked = journal_texts(&app, "2026-11-23", "+12125553121").await;
    let b = blocked
        .iter()
        .find(|l| l["event"] == "sms_blocked")
        .expect("blocked");
    assert!(
        b["reason"]
            .as_str()
            .unwrap_or("")
            .contains("Blocked by flag"),
        "{b}"
    );
    let missing = journal_texts(&app, "2026-11-23", "+12125553122").await;
    let m = missing
        .iter()
        .find(|l| l["event"] == "sms_blocked")
        .expect("dropped");
    assert!(
        m["reason"].as_str().unwrap_or("").contains("`first_name`"),
        "{m}"
    );

    // The first text goes; a STOP cancels the second before its day.
    let rid = called(
        &app,
        json!({"phone_number": "2125553123", "lead_id": "F-3", "first_name": "Ed"}),
    )
    .await;
    voicemail(&app, &rid, "F-3", Some("Ed")).await;
    wait_texts(&app, 1).await;
    texts_settled(&app).await;
    let res = app
        .client
        .post(app.url("/webhooks/sms"))
        .json(&json!({"from": "2125553123", "body": "STOP"}))
        .send()
        .await
        .expect("stop");
    assert!(res.status().is_success());
    let cancelled = journal_texts(&app, "2026-11-23", "+12125553123").await;
    let c = cancelled
        .iter()
        .find(|l| l["event"] == "sms_blocked")
        .expect("the pending text cancelled");
    assert_eq!(
        (&c["step"], &c["reason"]),
        (&json!(2), &json!("cancelled: the number opted out"))
    );
    // One confirmation goes, though the number is now flagged; a second STOP sends none.
    let sent = wait_texts(&app, 2).await;
    assert_eq!(
        (&sent[1]["user_number"], &sent[1]["agent_message"]),
        (
            &json!("+12125553123"),
            &json!(callgate::config::sms::OPT_OUT_CONFIRMATION)
        )
    );
    let res = app
        .client
        .post(app.url("/webhooks/sms"))
        .json(&json!({"from": "2125553123", "body": "stop!! STOP"}))
        .send()
        .await
        .expect("stop");
    assert!(res.status().is_success());
    app.clock.advance(TimeDelta::days(1));
    texts_settled(&app).await;
    assert_eq!(
        texts(&app).await.len(),
        2,
        "no second text of the sequence, no second confirmation"
    );
}

/// Two instances on one database: every due text is sent once, whichever takes it.
#[tokio::test]
async fn two_instances_send_each_text_once() {
    let Some((a, b)) = crate::helpers::spawn_pair(|s| {
        live(s);
        s.sms.enabled = true;
        s.sms.from = Some(FROM.into());
        s.sms.day_gaps = vec![1];
        s.sms.messages = vec!["Hi {{first_name}}.".into()];
    })
    .await
    else {
        return;
    };
    bland_takes(&a.bland).await;
    Mock::given(method("POST"))
        .and(path("/v1/sms/send"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": {"conversation_id": "c"}})),
        )
        .mount(&a.bland)
        .await;
    for n in 0..8 {
        let app = if n % 2 == 0 { &a } else { &b };
        let lead = format!("P-{n}");
        let rid = called(app, json!({"phone_number": format!("21255531{:02}", 30 + n), "lead_id": lead, "first_name": "Al"})).await;
        voicemail(app, &rid, &lead, Some("Al")).await;
    }
    // Due for both at once.
    a.clock.advance(TimeDelta::days(1));
    let sent = wait_texts(&a, 8).await;
    texts_settled(&a).await;
    texts_settled(&b).await;
    let sent_now = texts(&a).await;
    assert_eq!(sent_now.len(), 8, "{sent:?}");
    let ids: std::collections::HashSet<_> = sent_now
        .iter()
        .map(|t| t["request_data"]["callgate_text_id"].clone())
        .collect();
    assert_eq!(ids.len(), 8, "each text once");
}

/// The texts' blocklist check includes the do-not-call lists and their freshness gate:
/// a number listed after its first text gets no second, and once the gated list is stale
/// no text goes at all (fail closed).
#[tokio::test]
async fn a_listed_number_and_a_stale_gated_list_stop_the_texts() {
    use callgate::config::lists::{ListKind, ListSettings};
    let app = spawn_app_with(|s| {
        live(s);
        s.sms.enabled = true;
        s.sms.from = Some(FROM.into());
        s.sms.day_gaps = vec![0, 1, 3];
        s.sms.messages = vec![
            "One, {{first_name}}.".into(),
            "Two.".into(),
            "Three.".into(),
        ];
        s.lists = vec![ListSettings {
            name: "ftc".into(),
            kind: ListKind::NationalDnc,
            max_age_days: Some(2),
            states: Vec::new(),
            exemption: None,
        }];
    })
    .await;
    bland_takes(&app.bland).await;
    Mock::given(method("POST"))
        .and(path("/v1/sms/send"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": {"conversation_id": "c"}})),
        )
        .mount(&app.bland)
        .await;
    let put = |body: &'static str| {
        app.admin(
            reqwest::Method::PUT,
            "/api/admin/lists/ftc?downloaded_at=2026-11-23",
        )
        .header("Content-Type", "text/plain")
        .body(body)
        .send()
    };
    assert!(put("9995550000\n")
        .await
        .expect("put")
        .status()
        .is_success());
    for (phone, lead) in [("2125553141", "D-1"), ("2125553142", "D-2")] {
        let rid = called(
            &app,
            json!({"phone_number": phone, "lead_id": lead, "first_name": "Flo"}),
        )
        .await;
        voicemail(&app, &rid, lead, Some("Flo")).await;
    }
    wait_texts(&app, 2).await;
    // D-1's number is listed before its second text.
    assert!(put("2125553141\n")
        .await
        .expect("put")
        .status()
        .is_success());
    app.clock.advance(TimeDelta::days(1));
    let sent = wait_texts(&app, 3).await;
    assert_eq!(sent[2]["user_number"], "+12125553142");
    texts_settled(&app).await;
    let listed = journal_texts(&app, "2026-11-24", "+12125553141").await;
    assert!(
        listed.iter().any(|l| l["event"] == "sms_blocked"
            && l["reason"].as_str().unwrap_or("").contains("national_dnc")),
        "{listed:?}"
    );
    // Day 3: the list is three days old, its gate two: nothing goes.
    app.clock.advance(TimeDelta::days(2));
    texts_settled(&app).await;
    assert_eq!(texts(&app).await.len(), 3);
    let stale = journal_texts(&app, "2026-11-26", "+12125553142").await;
    assert!(
        stale
            .iter()
            .any(|l| l["event"] == "sms_blocked"
                && l["reason"].as_str().unwrap_or("").contains("stale")),
        "{stale:?}"
    );
}

/// The sequences' rules are a config document: a `PUT` changes the next texts at once,
/// a bad field is named, and turning texts off schedules none.
#[tokio::test]
async fn the_texts_config_document_changes_the_next_sequence() {
    let app = app().await;
    let doc = app.get_json("/api/admin/sms/config").await;
    assert_eq!(
        (
            &doc["enabled"],
            &doc["day_gaps"],
            &doc["start"],
            &doc["days"][5]
        ),
        (&json!(true), &json!([0, 1]), &json!("08:00"), &json!("sat")),
        "{doc}"
    );
    let put = |body: Value| {
        app.admin(reqwest::Method::PUT, "/api/admin/sms/config")
            .json(&body)
            .send()
    };
    let res = put(json!({"messages": ["Hello {{first_name}}!"], "day_gaps": [0]}))
        .await
        .expect("put");
    assert_eq!(res.status(), 200);
    let bad = put(json!({"day_gaps": [2, 1]})).await.expect("put");
    assert_eq!(bad.status(), 400);
    let why: Value = bad.json().await.expect("json");
    assert!(
        why["error"].as_str().unwrap_or("").starts_with("day_gaps:"),
        "{why}"
    );
    let rid = called(
        &app,
        json!({"phone_number": "2125553151", "lead_id": "G-1", "first_name": "Gus"}),
    )
    .await;
    voicemail(&app, &rid, "G-1", Some("Gus")).await;
    let sent = wait_texts(&app, 1).await;
    assert_eq!(sent[0]["agent_message"], "Hello Gus!");
    // Off: a voicemail schedules nothing.
    assert_eq!(
        put(json!({"enabled": false})).await.expect("put").status(),
        200
    );
    let rid = called(
        &app,
        json!({"phone_number": "2125553152", "lead_id": "G-2", "first_name": "Hal"}),
    )
    .await;
    voicemail(&app, &rid, "G-2", Some("Hal")).await;
    texts_settled(&app).await;
    assert!(journal_texts(&app, "2026-11-23", "+12125553152")
        .await
        .is_empty());
    assert_eq!(texts(&app).await.len(), 1);
}
