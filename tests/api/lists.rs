//! Do-not-call lists through the API: loading a list, the check blocking with the list and
//! its snapshot date, prefixes, consent exemptions, the freshness gate failing closed,
//! refused files keeping the previous version, and the snapshot surviving a restart.

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp};
use crate::intake::post_lead;
use callgate::config::lists::{Exemption, ListKind, ListSettings};

fn lists() -> Vec<ListSettings> {
    vec![
        ListSettings {
            name: "ftc".into(),
            kind: ListKind::NationalDnc,
            max_age_days: Some(31),
            states: Vec::new(),
            exemption: Some(Exemption {
                consent_field: "tcpa_consent_at".into(),
                max_age_days: 365,
            }),
        },
        ListSettings {
            name: "ours".into(),
            kind: ListKind::InternalDnc,
            max_age_days: None,
            states: Vec::new(),
            exemption: None,
        },
    ]
}

async fn put_list(app: &TestApp, name: &str, query: &str, body: &str) -> (StatusCode, Value) {
    let res = app
        .admin(Method::PUT, &format!("/api/admin/lists/{name}{query}"))
        .header("Content-Type", "text/plain")
        .body(body.to_string())
        .send()
        .await
        .expect("put");
    let status = res.status();
    (status, res.json().await.expect("json"))
}

fn view<'a>(lists: &'a Value, name: &str) -> &'a Value {
    lists["lists"]
        .as_array()
        .and_then(|l| l.iter().find(|x| x["name"] == name))
        .expect("list")
}

#[tokio::test]
async fn lists_block_with_their_snapshot_fail_closed_when_stale_and_survive_a_restart() {
    let app = spawn_app_with(|s| s.lists = lists()).await;
    // A gated list never loaded blocks what it covers, and /health says so.
    let (_, body) = post_lead(&app, json!({"phone_number": "3055550000", "lead_id": "A"})).await;
    assert_eq!(body["decision"], "blocked", "{body}");
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no current snapshot")),
        "{body}"
    );
    let h = app.health().await;
    assert_eq!(h["components"]["lists"]["status"], "unhealthy", "{h}");

    let (status, loaded) = put_list(
        &app,
        "ftc",
        "?downloaded_at=2026-11-20",
        "3055551234\n305,5551235\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{loaded}");
    assert_eq!(
        (loaded["version"].clone(), loaded["count"].clone()),
        (json!(1), json!(2))
    );
    let (status, _) = put_list(&app, "ours", "", "212*\n4045550000\n").await;
    assert_eq!(status, StatusCode::OK);
    let all = app.get_json("/api/admin/lists").await;
    assert_eq!(view(&all, "ftc")["status"], "ok", "{all}");
    assert_eq!(view(&all, "ftc")["age_days"], 3);
    assert_eq!(view(&all, "ours")["prefixes"], 1);
    assert_eq!(app.health().await["components"]["lists"]["status"], "ok");

    let (_, hit) = post_lead(
        &app,
        json!({"phone_number": "(305) 555-1234", "lead_id": "B"}),
    )
    .await;
    assert_eq!(hit["decision"], "blocked", "{hit}");
    assert_eq!(
        hit["reason"],
        "Blocked: on national_dnc \"ftc\" (snapshot 2026-11-20)"
    );
    let (_, prefixed) =
        post_lead(&app, json!({"phone_number": "2125550199", "lead_id": "C"})).await;
    assert_eq!(prefixed["decision"], "blocked", "{prefixed}");
    // Consent within a year passes the national list, never the internal one.
    let (_, consented) = post_lead(
        &app,
        json!({"phone_number": "3055551235", "lead_id": "D", "tcpa_consent_at": "2026-06-01"}),
    )
    .await;
    assert_eq!(consented["decision"], "accepted", "{consented}");
    let (_, internal) = post_lead(
        &app,
        json!({"phone_number": "4045550000", "lead_id": "E", "tcpa_consent_at": "2026-06-01"}),
    )
    .await;
    assert_eq!(internal["decision"], "blocked", "{internal}");
    let found = app
        .get_json("/api/admin/lists/lookup?phone=305-555-1234")
        .await;
    assert_eq!(found["lists"][0]["name"], "ftc", "{found}");
    assert_eq!(found["lists"][0]["snapshot_version"], 1);
    let none = app
        .get_json("/api/admin/lists/lookup?phone=3055559999")
        .await;
    assert_eq!(none["lists"], json!([]));

    // A file with more than 1 % malformed lines is refused; the version in force stays.
    let (status, refused) = put_list(&app, "ftc", "", "3055550001\nnot a number\n").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("previous version")),
        "{refused}"
    );
    let all = app.get_json("/api/admin/lists").await;
    assert_eq!(view(&all, "ftc")["snapshot"]["version"], 1);

    // The snapshot survives a restart.
    let app = app.restart().await;
    let all = app.get_json("/api/admin/lists").await;
    assert_eq!(view(&all, "ftc")["count"], 2, "{all}");
    // 32 days after the download the gate closes: even an unlisted number is not called.
    app.clock.advance(TimeDelta::days(29));
    let (_, stale) = post_lead(&app, json!({"phone_number": "3055558888", "lead_id": "F"})).await;
    assert_eq!(stale["decision"], "blocked", "{stale}");
    assert!(
        stale["reason"]
            .as_str()
            .is_some_and(|r| r.contains("32 days old")),
        "{stale}"
    );
    assert_eq!(
        app.health().await["components"]["lists"]["status"],
        "unhealthy"
    );
}
