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

    // A change list makes version 2: one number added, one deleted.
    let res = app
        .admin(Method::POST, "/api/admin/lists/ftc/changes")
        .body("3055557777,2026-11-22 10:00:00,A\n305,5551235,2026-11-22 10:01:00,D\n")
        .send()
        .await
        .expect("changes");
    assert_eq!(res.status(), StatusCode::OK);
    let c: Value = res.json().await.expect("json");
    assert_eq!(
        (
            c["version"].clone(),
            c["added"].clone(),
            c["deleted"].clone()
        ),
        (json!(2), json!(1), json!(1))
    );
    let found = app
        .get_json("/api/admin/lists/lookup?phone=3055557777")
        .await;
    assert_eq!(found["lists"][0]["snapshot_version"], 2, "{found}");
    let gone = app
        .get_json("/api/admin/lists/lookup?phone=3055551235")
        .await;
    assert_eq!(gone["lists"], json!([]));

    // The snapshot survives a restart.
    let app = app.restart().await;
    let all = app.get_json("/api/admin/lists").await;
    assert_eq!(view(&all, "ftc")["count"], 2, "{all}");
    assert_eq!(view(&all, "ftc")["snapshot"]["version"], 2);
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

#[test]
fn the_cli_imports_a_file_and_a_change_list_and_looks_numbers_up() {
    use crate::helpers::{path_str, run_binary};
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("callgate.toml");
    std::fs::write(
        &config,
        "[[lists]]\nname = \"ftc\"\nkind = \"national_dnc\"\n",
    )
    .expect("config");
    let file = dir.path().join("ftc-305.txt");
    std::fs::write(&file, "3055551234\n305,5551235\n").expect("list");
    let changes = dir.path().join("changes.txt");
    std::fs::write(&changes, "3055551234,2026-11-29 09:00:00,D\n").expect("changes");
    let data = dir.path().join("data");
    let env = [
        ("DATA_DIR", path_str(&data)),
        ("CALLGATE_CONFIG", path_str(&config)),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (out, stderr) = run_binary(
        &[
            "lists",
            "import",
            "ftc",
            &path_str(&file),
            "--downloaded-at",
            "2026-11-28",
        ],
        &env,
    );
    assert!(out.status.success(), "{stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("version 1 (2 numbers, 0 prefixes, downloaded 2026-11-28)"),
        "{text}"
    );
    let (out, stderr) = run_binary(&["lists", "lookup", "(305) 555-1234"], &env);
    assert!(out.status.success(), "{stderr}");
    let found: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(found["lists"][0]["name"], "ftc", "{found}");
    let (out, stderr) = run_binary(
        &["lists", "import", "ftc", &path_str(&changes), "--changes"],
        &env,
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("version 2 (1 number), 0 added, 1 deleted"),
        "one number, in the singular"
    );
    let (out, _) = run_binary(&["lists", "lookup", "3055551234"], &env);
    let found: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(found["lists"], json!([]));
}

#[tokio::test]
async fn an_emptied_gated_list_blocks_what_it_covers() {
    let app = spawn_app_with(|s| s.lists = lists()).await;
    let (status, _) = put_list(&app, "ftc", "", "3055551234\n").await;
    assert_eq!(status, StatusCode::OK);
    let (_, ok) = post_lead(&app, json!({"phone_number": "3055550000", "lead_id": "A"})).await;
    assert_eq!(ok["decision"], "accepted", "{ok}");
    let res = app
        .admin(Method::DELETE, "/api/admin/lists/ftc/contents")
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::OK);
    let all = app.get_json("/api/admin/lists").await;
    assert_eq!(view(&all, "ftc")["status"], "empty", "{all}");
    assert_eq!(view(&all, "ftc")["snapshot"]["version"], 2);
    let (_, blocked) = post_lead(&app, json!({"phone_number": "3055550001", "lead_id": "B"})).await;
    assert_eq!(blocked["decision"], "blocked", "{blocked}");
    assert!(
        blocked["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no current snapshot")),
        "{blocked}"
    );
    assert_eq!(
        app.health().await["components"]["lists"]["status"],
        "unhealthy"
    );
    let res = app
        .admin(Method::DELETE, "/api/admin/lists/nope/contents")
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
