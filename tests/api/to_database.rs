//! `callgate migrate --to-database`: a file data directory copied into PostgreSQL, twice
//! (the second run copies nothing), then served by a database-mode instance that answers
//! as the file server did.

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{path_str, run_binary, spawn_app_with, start_with, TestApp};
use crate::intake::{live, post_lead, wait_for_calls};

/// What an operator compares before and after the move.
async fn snapshot(app: &TestApp) -> Vec<Value> {
    let mut out = Vec::new();
    for p in [
        "/api/admin/blocklist",
        "/api/admin/blocklist/attempts/2026-11-23",
        "/api/admin/blocklist/statistics?start=2026-11-23&end=2026-11-23",
        "/api/admin/statistics?start=2026-11-23&end=2026-11-23",
        "/api/admin/scheduler/config",
        "/api/admin/protection/config",
    ] {
        out.push(app.get_json(p).await);
    }
    let q = app.get_json("/api/admin/scheduler/queue").await;
    out.push(json!({"total": q["total"], "entries": q["entries"]}));
    let mut pending = app.get_json("/api/admin/calls/pending").await;
    // Attempt instants are kept; nothing else about an entry changes in the copy.
    pending["entries"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .for_each(|e| {
            e.as_object_mut().map(|o| o.remove("attempts"));
        });
    out.push(pending);
    out
}

#[tokio::test]
async fn a_file_data_directory_is_copied_into_the_database_once_even_when_run_twice() {
    let Some(scratch) = callgate::db::scratch::Scratch::create().await else {
        return;
    };
    let app = spawn_app_with(|s| {
        live(s);
        s.database_url = None;
    })
    .await;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"message": "bad number"})))
        .mount(&app.bland)
        .await;
    for value in ["3055551234", "3055554321"] {
        let res = app
            .post_json(
                "/api/admin/blocklist",
                json!({"field": "phone", "value": value, "reason": "asked"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let res = app
        .admin(Method::PUT, "/api/admin/scheduler/config")
        .json(&json!({"hours": {"sat": {"start": "10:00", "end": "14:00"}}}))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), StatusCode::OK);
    let (_, blocked) =
        post_lead(&app, json!({"phone_number": "3055551234", "lead_id": "M1"})).await;
    assert_eq!(blocked["decision"], "blocked");
    // A call Bland refuses stays in the outbox as failed.
    let (_, accepted) =
        post_lead(&app, json!({"phone_number": "3055550042", "lead_id": "M2"})).await;
    assert_eq!(accepted["decision"], "accepted");
    wait_for_calls(&app, 1).await;
    crate::helpers::eventually(std::time::Duration::from_secs(5), || async {
        (app.get_json("/api/admin/calls/pending").await["failed"] == 1).then_some(())
    })
    .await
    .expect("failed entry");
    // A lead deferred to tomorrow morning.
    app.clock.advance(TimeDelta::hours(9));
    let (_, deferred) =
        post_lead(&app, json!({"phone_number": "3055550077", "lead_id": "M3"})).await;
    assert_eq!(deferred["decision"], "deferred", "{deferred}");
    app.clock.advance(TimeDelta::hours(-9));
    let before = snapshot(&app).await;
    let (settings, dir, _bland, clock) = app.stop().await;

    let env = [
        ("DATA_DIR", path_str(&settings.data_dir)),
        ("DATABASE_URL", scratch.url.clone()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (out, stderr) = run_binary(&["migrate", "--to-database"], &env);
    assert!(out.status.success(), "{stderr}");
    let first = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(first.contains("flags: 2 added, 0 already there"), "{first}");
    assert!(first.contains("config documents: 1 copied"), "{first}");
    assert!(first.contains("outbox: 1 added"), "{first}");
    assert!(first.contains("deferred queue: 1 added"), "{first}");
    let (out, stderr) = run_binary(&["migrate", "--to-database"], &env);
    assert!(out.status.success(), "{stderr}");
    let second = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        second.contains("flags: 0 added, 2 already there"),
        "{second}"
    );
    assert!(second.contains("journal files: 0 copied"), "{second}");
    assert!(
        second.contains("outbox: 0 added, 1 already there"),
        "{second}"
    );
    assert!(
        second.contains("deferred queue: 0 added, 1 already there"),
        "{second}"
    );

    // The database instance answers as the file server did.
    let mut db_settings = settings.clone();
    db_settings.database_url = Some(callgate::config::Secret::new(scratch.url.clone()));
    db_settings.data_dir = dir.path().join("db-instance");
    let app = start_with(db_settings, dir, clock).await;
    let after = snapshot(&app).await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a);
    }
    drop(scratch);
}
