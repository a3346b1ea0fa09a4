//! The blocklist document on disk: seed format, hand edits while running, refusals.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_app, spawn_app_with};
use callgate::config::Settings;
use callgate::startup::Application;

fn read_doc(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read document")).expect("valid json")
}

#[tokio::test]
async fn a_seed_format_file_loads_with_its_ids_and_is_complete_after_shutdown() {
    if crate::helpers::file_backend_only() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(
        data.join("blocklist-config.json"),
        r#"{"enabled": true, "flags": [
            {"id": "flag_1735084012345_abc123def", "field": "phone", "value": "3055551234",
             "reason": "Customer requested no contact", "added_at": "2024-12-24T15:30:00.000Z", "added_by": "admin"},
            {"id": "flag_1735084012346_xyz789ghi", "field": "lead_id", "value": "12345",
             "reason": "Duplicate lead - permanently block", "added_at": "2024-12-24T16:00:00.000Z", "added_by": "utkarsh"}
        ]}"#,
    )
    .expect("write seed file");
    let data_for_app = data.clone();
    let app = spawn_app_with(move |s| s.data_dir = data_for_app).await;
    let all = app.get_json("/api/admin/blocklist").await;
    assert_eq!(all["flags"][0]["id"], "flag_1735084012345_abc123def");
    assert_eq!(all["flags"][0]["value"], "+13055551234");
    assert_eq!(all["flags"][1]["added_by"], "utkarsh");
    let res = app
        .post_json(
            "/api/admin/blocklist",
            json!({"field": "email", "value": "x@y.z"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    app.stop().await;
    let doc = read_doc(&data.join("blocklist-config.json"));
    assert_eq!(doc["enabled"], true);
    let flags = doc["flags"].as_array().expect("flags");
    assert_eq!(flags.len(), 3);
    assert_eq!(flags[2]["field"], "email");
    assert!(
        !data.join("blocklist-changes.jsonl").exists()
            || std::fs::read(data.join("blocklist-changes.jsonl"))
                .expect("r")
                .is_empty()
    );
}

#[tokio::test]
async fn adds_are_on_disk_in_the_change_log_before_the_response() {
    if crate::helpers::file_backend_only() {
        return;
    }
    let app = spawn_app_with(|s| s.blocklist_compact_after = 1_000_000).await;
    let res = app
        .post_json(
            "/api/admin/blocklist",
            json!({"field": "phone", "value": "3055551234"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let log = std::fs::read_to_string(app.data_dir().join("blocklist-changes.jsonl"))
        .expect("change log");
    assert!(log.contains("+13055551234"), "{log}");
    let doc = read_doc(&app.data_dir().join("blocklist-config.json"));
    assert_eq!(
        doc["flags"].as_array().expect("flags").len(),
        0,
        "the document is folded later, not per add"
    );
}

#[tokio::test]
async fn a_hand_edit_is_applied_and_api_changes_since_are_kept() {
    if crate::helpers::file_backend_only() {
        return;
    }
    let app = spawn_app_with(|s| s.blocklist_compact_after = 1_000_000).await;
    let res = app
        .post_json(
            "/api/admin/blocklist",
            json!({"field": "lead_id", "value": "from-api"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let path = app.data_dir().join("blocklist-config.json");
    std::fs::write(
        &path,
        r#"{"enabled": true, "flags": [{"id": "flag_hand_1", "field": "phone", "value": "(305) 555-4321", "reason": "hand"}]}"#,
    )
    .expect("hand edit");
    let found = eventually(Duration::from_secs(2), || async {
        let all = app.get_json("/api/admin/blocklist").await;
        (all["flags_count"] == 2).then_some(all)
    })
    .await
    .expect("hand edit applied within 2 s");
    let values: Vec<&str> = found["flags"]
        .as_array()
        .expect("a")
        .iter()
        .map(|f| f["value"].as_str().expect("v"))
        .collect();
    assert!(
        values.contains(&"+13055554321") && values.contains(&"from-api"),
        "{values:?}"
    );
}

#[tokio::test]
async fn an_invalid_hand_edit_is_refused_and_the_file_left_as_written() {
    if crate::helpers::file_backend_only() {
        return;
    }
    let app = spawn_app().await;
    let res = app
        .post_json(
            "/api/admin/blocklist",
            json!({"field": "phone", "value": "3055551234"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let path = app.data_dir().join("blocklist-config.json");
    for bad in [
        r#"{"enabled": true, "flags": [ {"id": "a", "field": "phone""#.to_string(),
        r#"{"flags": [{"id": "a", "field": "phone", "value": "12"}]}"#.to_string(),
        r#"{"flags": [{"id": "a", "field": "x", "value": "1"}, {"id": "a", "field": "y", "value": "2"}]}"#.to_string(),
    ] {
        std::fs::write(&path, &bad).expect("bad edit");
        let health = app.wait_for_health("degraded").await;
        assert!(health["components"]["blocklist"]["error"].as_str().expect("error").contains("blocklist-config.json"));
        // The last good state is still in force.
        let res = app
            .admin(Method::GET, "/api/admin/blocklist/lookup?field=phone&value=3055551234")
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), 204);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), bad);
        // A fix clears the refusal.
        std::fs::write(&path, r#"{"enabled": true, "flags": []}"#).expect("fix");
        app.wait_for_health("ok").await;
    }
    // A bad edit left in place survives shutdown untouched (no compaction over it).
    std::fs::write(&path, "{oops").expect("bad edit");
    app.wait_for_health("degraded").await;
    let res = app
        .post_json(
            "/api/admin/blocklist",
            json!({"field": "lead_id", "value": "9"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let _kept = app.stop().await;
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "{oops");
}

#[tokio::test]
async fn a_corrupt_file_at_startup_stops_startup_with_what_and_where() {
    if crate::helpers::file_backend_only() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = Settings::defaults();
    settings.host = "127.0.0.1".into();
    settings.port = 0;
    settings.data_dir = dir.path().to_path_buf();
    std::fs::write(
        dir.path().join("blocklist-config.json"),
        r#"{"enabled": true, "flags": [{"id": "f1", "field": "phone", "value": "not a phone"}]}"#,
    )
    .expect("write");
    let err = Application::build(settings)
        .await
        .err()
        .expect("startup refused");
    let message = format!("{err:#}");
    assert!(message.contains("blocklist-config.json"), "{message}");
    assert!(message.contains("flag #1 (id `f1`)"), "{message}");
}

#[tokio::test]
async fn delete_is_durable_across_restart() {
    if crate::helpers::file_backend_only() {
        return;
    }
    let app = spawn_app().await;
    let res = app
        .post_json(
            "/api/admin/blocklist",
            json!({"field": "lead_id", "value": "1"}),
        )
        .await;
    let id = res.json::<Value>().await.expect("json")["flag"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let res = app
        .admin(Method::DELETE, &format!("/api/admin/blocklist/{id}"))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 200);
    let app = app.restart().await;
    assert_eq!(app.get_json("/api/admin/blocklist").await["flags_count"], 0);
}

#[tokio::test]
async fn a_hand_edit_that_removes_flags_leaves_a_backup_and_a_trace_in_health() {
    if crate::helpers::file_backend_only() {
        return;
    }
    let app = spawn_app_with(|s| s.blocklist_compact_after = 1).await;
    for v in ["3055550001", "3055550002", "3055550003"] {
        let res = app
            .post_json(
                "/api/admin/blocklist",
                json!({"field": "phone", "value": v}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let folded = eventually(Duration::from_secs(3), || async {
        let doc = read_doc(&app.data_dir().join("blocklist-config.json"));
        // Every change folded: no later fold rewrites the document under the hand edit.
        let pending = app.health().await["components"]["blocklist"]["pending_changes"] == 0;
        (doc["flags"].as_array().map(Vec::len) == Some(3) && pending).then_some(())
    })
    .await;
    assert!(folded.is_some(), "the adds were folded into the document");
    // What `git checkout` of an empty tracked document did on a running deployment.
    let doc = app.data_dir().join("blocklist-config.json");
    std::fs::write(&doc, r#"{"enabled": true, "flags": []}"#).expect("hand edit");
    let health = eventually(Duration::from_secs(5), || async {
        let h = app.health().await;
        (h["components"]["blocklist"]["removed_by_hand_edit"] == 3).then_some(h)
    })
    .await;
    let last = app.health().await;
    let health = health.unwrap_or_else(|| {
        panic!(
            "{last} the removal is not shown in /health: {:?} {:?}",
            std::fs::read_to_string(&doc),
            std::fs::read_dir(app.data_dir())
                .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
        )
    });
    assert_eq!(health["status"], "degraded");
    let backup = health["components"]["blocklist"]["backup"]
        .as_str()
        .expect("backup path");
    let kept = read_doc(std::path::Path::new(backup));
    assert_eq!(kept["flags"].as_array().map(Vec::len), Some(3));
}
