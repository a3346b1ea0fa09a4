//! Attempts journal endpoints and the seed's blocklist statistics. Journal lines are
//! written by the tests themselves (the pipeline that writes them in production lands with
//! the intake issue).

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};
use callgate::journal::Attempt;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("instant")
}

fn attempt(when: &str, field: &str, value: &str, flag_id: &str) -> Attempt {
    Attempt {
        timestamp: at(when),
        field: field.into(),
        value: value.into(),
        lead_id: Some("67890".into()),
        phone: Some("+13055551234".into()),
        blocked: true,
        reason: format!("Blocked by flag: {field}={value}"),
        flag_id: Some(flag_id.into()),
        request_id: Some("req_test".into()),
        stage: "blocklist".into(),
        source: "flag".into(),
        flag_reason: Some("Customer requested no contact".into()),
        list: None,
        list_version: None,
    }
}

async fn write_attempts(app: &TestApp, attempts: &[Attempt]) {
    let journals = app.journals().await;
    for a in attempts {
        journals.append_attempt(a).wait().await.expect("durable");
    }
}

#[tokio::test]
async fn attempts_today_and_by_date_in_the_seed_shape() {
    let app = spawn_app().await;
    write_attempts(
        &app,
        &[
            // 2026-11-23 09:00 and 23:59:59.999 Eastern are "today"; 00:00 next day is not.
            attempt("2026-11-23T14:00:00Z", "phone", "+13055551234", "flag_a"),
            attempt("2026-11-24T04:59:59.999Z", "lead_id", "12345", "flag_b"),
            attempt("2026-11-24T05:00:00Z", "phone", "+13055551234", "flag_a"),
            attempt("2026-11-22T15:00:00Z", "phone", "+13055551234", "flag_a"),
        ],
    )
    .await;
    let today = app.get_json("/api/admin/blocklist/attempts/today").await;
    assert_eq!(today["date"], "2026-11-23");
    assert_eq!(today["total_attempts"], 2);
    assert_eq!(today["blocked_count"], 2);
    let first = &today["attempts"][0];
    assert_eq!(first["timestamp"], "2026-11-23T14:00:00.000Z");
    assert_eq!(first["field"], "phone");
    assert_eq!(first["value"], "+13055551234");
    assert_eq!(first["lead_id"], "67890");
    assert_eq!(first["phone"], "+13055551234");
    assert_eq!(first["blocked"], true);
    assert_eq!(first["reason"], "Blocked by flag: phone=+13055551234");
    assert_eq!(first["flag_id"], "flag_a");
    assert_eq!(first["stage"], "blocklist");
    assert_eq!(first["source"], "flag");
    assert_eq!(
        app.get_json("/api/admin/blocklist/attempts/2026-11-24")
            .await["total_attempts"],
        1
    );
    let page = app
        .get_json("/api/admin/blocklist/attempts/2026-11-23?limit=1&offset=1")
        .await;
    assert_eq!(page["total_attempts"], 2);
    assert_eq!(page["attempts"].as_array().expect("a").len(), 1);
    assert_eq!(page["attempts"][0]["field"], "lead_id");
    let empty = app
        .get_json("/api/admin/blocklist/attempts/2020-01-01")
        .await;
    assert_eq!(
        empty,
        json!({"date": "2020-01-01", "total_attempts": 0, "blocked_count": 0, "attempts": []})
    );
    for bad in ["2026-02-30", "20261123", "2026-13-01", "yesterday"] {
        let res = app
            .admin(Method::GET, &format!("/api/admin/blocklist/attempts/{bad}"))
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn a_torn_last_line_is_skipped_not_an_error() {
    if crate::helpers::file_backend_only() {
        return;
    }
    let app = spawn_app().await;
    write_attempts(
        &app,
        &[attempt(
            "2026-11-23T14:00:00Z",
            "phone",
            "+13055551234",
            "flag_a",
        )],
    )
    .await;
    let path =
        callgate::journal::attempts_path(app.data_dir(), "2026-11-23".parse().expect("date"));
    let mut text = std::fs::read_to_string(&path).expect("read");
    text.push_str("{\"timestamp\":\"2026-11-23T15:0");
    std::fs::write(&path, text).expect("tear");
    let today = app.get_json("/api/admin/blocklist/attempts/today").await;
    assert_eq!(today["total_attempts"], 1);
    let stats = app.get_json("/api/admin/blocklist/statistics").await;
    assert_eq!(stats["total_attempts"], 1);
}

#[tokio::test]
async fn blocklist_statistics_in_the_seed_shape_with_inclusive_ranges() {
    let app = spawn_app().await;
    let res = app
        .post_json(
            "/api/admin/blocklist",
            json!({"field": "phone", "value": "3055551234", "reason": "still here"}),
        )
        .await;
    let live_id = res.json::<Value>().await.expect("json")["flag"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    write_attempts(
        &app,
        &[
            attempt("2026-01-20T15:00:00Z", "phone", "+13055551234", &live_id),
            attempt("2026-01-21T15:00:00Z", "phone", "+13055551234", &live_id),
            attempt("2026-01-21T16:00:00Z", "phone", "+13055559999", "flag_gone"),
            attempt("2026-01-22T15:00:00Z", "lead_id", "12345", "flag_gone_2"),
            attempt("2026-01-23T15:00:00Z", "phone", "+13055551234", &live_id),
        ],
    )
    .await;
    let s = app
        .get_json("/api/admin/blocklist/statistics?start=2026-01-20&end=2026-01-22")
        .await;
    assert_eq!(
        s["date_range"],
        json!({"start": "2026-01-20", "end": "2026-01-22"})
    );
    assert_eq!(s["total_attempts"], 4);
    assert_eq!(s["blocked_attempts"], 4);
    let live = &s["by_flag"][&live_id];
    assert_eq!(live["count"], 2);
    assert_eq!(live["dates"], json!({"2026-01-20": 1, "2026-01-21": 1}));
    assert_eq!(live["flag"]["id"], live_id.as_str());
    assert_eq!(live["flag"]["field"], "phone");
    assert_eq!(live["flag"]["value"], "+13055551234");
    assert_eq!(live["flag"]["reason"], "still here");
    // A flag removed since shows what the attempts recorded.
    let gone = &s["by_flag"]["flag_gone"];
    assert_eq!(gone["count"], 1);
    assert_eq!(gone["flag"]["value"], "+13055559999");
    assert_eq!(gone["flag"]["reason"], "Customer requested no contact");
    assert_eq!(gone["flag"]["removed"], true);
    assert_eq!(
        s["by_field"]["phone"],
        json!({"count": 3, "values": {"+13055551234": 2, "+13055559999": 1}})
    );
    assert_eq!(
        s["by_field"]["lead_id"],
        json!({"count": 1, "values": {"12345": 1}})
    );
    // One day only; the end day is included.
    let one = app
        .get_json("/api/admin/blocklist/statistics?start=2026-01-22&end=2026-01-22")
        .await;
    assert_eq!(one["total_attempts"], 1);
    // Default: the 7 days ending today (2026-11-23).
    let default = app.get_json("/api/admin/blocklist/statistics").await;
    assert_eq!(
        default["date_range"],
        json!({"start": "2026-11-17", "end": "2026-11-23"})
    );
    assert_eq!(default["total_attempts"], 0);
    for bad in [
        "start=2026-01-23&end=2026-01-22",
        "start=2026-02-30",
        "start=2024-01-01&end=2026-01-01",
        "end=soon",
    ] {
        let res = app
            .admin(
                Method::GET,
                &format!("/api/admin/blocklist/statistics?{bad}"),
            )
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(res.json::<Value>().await.expect("json")["success"], false);
    }
}

#[tokio::test]
async fn statistics_pick_up_lines_appended_after_a_previous_request() {
    let app = spawn_app().await;
    write_attempts(
        &app,
        &[attempt(
            "2026-11-23T14:00:00Z",
            "phone",
            "+13055551234",
            "flag_a",
        )],
    )
    .await;
    assert_eq!(
        app.get_json("/api/admin/blocklist/statistics").await["total_attempts"],
        1
    );
    write_attempts(
        &app,
        &[attempt(
            "2026-11-23T14:30:00Z",
            "phone",
            "+13055551234",
            "flag_a",
        )],
    )
    .await;
    let s = app.get_json("/api/admin/blocklist/statistics").await;
    assert_eq!(s["total_attempts"], 2);
    assert_eq!(s["by_flag"]["flag_a"]["dates"]["2026-11-23"], 2);
}
