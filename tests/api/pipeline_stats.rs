//! Pipeline statistics from the call journal, the `stats` CLI, retention and migration
//! from a Node data directory. Journal lines are written by the tests themselves.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{eventually, path_str, run_binary, spawn_app, spawn_app_with, TestApp};
use callgate::journal::{CallEvent, Decision, DispatchStatus, Outcome};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("instant")
}

async fn write_calls(app: &TestApp, events: &[CallEvent]) {
    let journals = app.journals().await;
    for e in events {
        journals.append_call(e).wait().await.expect("durable");
    }
}

fn decision(when: &str, id: &str, d: Decision, stage: Option<&str>, release: bool) -> CallEvent {
    CallEvent::Decision {
        timestamp: at(when),
        request_id: id.into(),
        lead_id: Some("1".into()),
        phone: Some("+13055551234".into()),
        decision: d,
        stage: stage.map(str::to_string),
        reason: None,
        release,
        queue_id: None,
        release_at: None,
        trace: None,
        attempt: None,
        fields: None,
    }
}

fn outcome(when: &str, o: Outcome, seconds: f64) -> CallEvent {
    CallEvent::Outcome {
        timestamp: at(when),
        request_id: Some("r".into()),
        call_id: format!("c-{when}"),
        outcome: o,
        duration_s: Some(seconds),
        lead_id: None,
        phone: None,
        tags: Vec::new(),
        matched: true,
        source: None,
    }
}

fn dispatch(when: &str, status: DispatchStatus) -> CallEvent {
    CallEvent::Dispatch {
        timestamp: at(when),
        request_id: "r".into(),
        status,
        lead_id: None,
        phone: None,
        call_id: None,
        error: None,
        caller_id: None,
    }
}

async fn calls_fixture(app: &TestApp) {
    write_calls(
        app,
        &[
            decision("2026-11-22T15:00:00Z", "a", Decision::Accepted, None, false),
            decision(
                "2026-11-22T15:01:00Z",
                "b",
                Decision::Deferred,
                Some("schedule"),
                false,
            ),
            decision(
                "2026-11-22T15:02:00Z",
                "c",
                Decision::Blocked,
                Some("blocklist"),
                false,
            ),
            dispatch("2026-11-22T15:00:01Z", DispatchStatus::Sent),
            outcome("2026-11-22T15:05:00Z", Outcome::Human, 45.0),
            outcome("2026-11-22T15:06:00Z", Outcome::Human, 19.5),
            outcome("2026-11-22T15:07:00Z", Outcome::Voicemail, 30.0),
            // Next day: the deferred lead is released and accepted (not a new lead).
            decision("2026-11-23T14:00:00Z", "b", Decision::Accepted, None, true),
            decision(
                "2026-11-23T14:01:00Z",
                "d",
                Decision::Blocked,
                Some("protection"),
                false,
            ),
            dispatch("2026-11-23T14:00:01Z", DispatchStatus::Failed),
            dispatch("2026-11-23T14:00:02Z", DispatchStatus::DryRun),
            outcome("2026-11-23T14:10:00Z", Outcome::NoAnswer, 0.0),
        ],
    )
    .await;
}

#[tokio::test]
async fn pipeline_statistics_per_day_and_in_total() {
    let app = spawn_app().await;
    calls_fixture(&app).await;
    let s = app
        .get_json("/api/admin/statistics?start=2026-11-22&end=2026-11-23")
        .await;
    assert_eq!(s["timezone"], "America/New_York");
    let day1 = &s["days"][0];
    assert_eq!(day1["date"], "2026-11-22");
    assert_eq!(day1["leads_received"], 3);
    assert_eq!(day1["accepted"], 1);
    assert_eq!(day1["deferred"], 1);
    assert_eq!(
        day1["blocked"],
        json!({"schedule": 0, "answering_machine": 0, "protection": 0, "blocklist": 1})
    );
    assert_eq!(day1["dispatched"], 1);
    assert_eq!(day1["outcomes"]["human"], 2);
    assert_eq!(day1["outcomes"]["voicemail"], 1);
    assert_eq!(day1["answered"], 1, "a 19.5 s human call is not answered");
    let day2 = &s["days"][1];
    assert_eq!(
        day2["leads_received"], 1,
        "a released lead is not received again"
    );
    assert_eq!(day2["accepted"], 1);
    assert_eq!(day2["dispatch_failures"], 1);
    assert_eq!(day2["dry_run"], 1);
    let total = &s["total"];
    assert_eq!(total["leads_received"], 4);
    assert_eq!(total["accepted"], 2);
    assert_eq!(total["blocked_total"], 2);
    assert_eq!(total["blocked"]["protection"], 1);
    assert_eq!(total["outcomes"]["no_answer"], 1);

    let res = app
        .admin(
            Method::GET,
            "/api/admin/statistics?start=2026-11-22&end=2026-11-23&format=csv",
        )
        .send()
        .await
        .expect("req");
    assert!(res.headers()["content-type"]
        .to_str()
        .expect("ct")
        .starts_with("text/csv"));
    let csv = res.text().await.expect("csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("date,leads_received,accepted,deferred,blocked_schedule"));
    assert!(
        lines[1].starts_with("2026-11-22,3,1,1,0,0,0,1,"),
        "{}",
        lines[1]
    );
    assert!(lines[3].starts_with("total,4,2,"), "{}", lines[3]);
    let res = app
        .admin(Method::GET, "/api/admin/statistics?format=xml")
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // The CLI reads the same data offline.
    let backend = app.backend_env();
    let (out, stderr) = run_binary(
        &[
            "stats",
            "--start",
            "2026-11-22",
            "--end",
            "2026-11-23",
            "--csv",
        ],
        &backend
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>(),
    );
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), csv);
    let (out, stderr) = run_binary(
        &["stats", "--start", "2026-11-23", "--end", "2026-11-22"],
        &[("DATA_DIR", &path_str(app.data_dir()))],
    );
    assert!(!out.status.success());
    assert!(stderr.contains("after"), "{stderr}");
}

#[tokio::test]
async fn retention_removes_old_journal_files_at_startup() {
    if crate::helpers::file_backend_only() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let attempts = data.join("blocklist-attempts");
    std::fs::create_dir_all(&attempts).expect("mkdir");
    std::fs::write(attempts.join("attempts_2026-10-01.jsonl"), "").expect("old");
    std::fs::write(attempts.join("attempts_2026-11-20.jsonl"), "").expect("recent");
    let data_for_app = data.clone();
    let _app = spawn_app_with(move |s| {
        s.data_dir = data_for_app;
        s.retention_days = 30;
    })
    .await;
    eventually(Duration::from_secs(3), || async {
        (!attempts.join("attempts_2026-10-01.jsonl").exists()).then_some(())
    })
    .await
    .expect("old file removed");
    assert!(attempts.join("attempts_2026-11-20.jsonl").exists());
}

#[test]
fn migration_from_a_node_data_directory_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = dir.path().join("node");
    std::fs::create_dir_all(node.join("blocklist-attempts")).expect("mkdir");
    std::fs::write(
        node.join("blocklist-config.json"),
        r#"{"enabled": true, "flags": [
          {"id": "flag_1735084012345_abc123def", "field": "phone", "value": "3055551234", "reason": "asked", "added_at": "2024-12-24T15:30:00.000Z", "added_by": "admin"},
          {"id": "flag_1735084012399_dupdupdup", "field": "phone_number", "value": "+13055551234", "reason": "dup", "added_at": "2024-12-25T15:30:00.000Z"},
          {"id": "flag_1735084012346_xyz789ghi", "field": "lead_id", "value": "12345", "added_at": "2024-12-24T16:00:00.000Z"},
          {"id": "flag_bad", "field": "phone", "value": "12"}
        ]}"#,
    )
    .expect("config");
    std::fs::write(
        node.join("blocklist-attempts").join("attempts_2024-12-24.json"),
        r#"[{"timestamp": "2024-12-24T15:35:12.000Z", "field": "phone", "value": "3055551234", "lead_id": 67890,
             "phone": "3055551234", "blocked": true, "reason": "Blocked by flag: phone=3055551234", "flag_id": "flag_1735084012345_abc123def"},
            {"timestamp": "2024-12-24T18:00:00.000Z", "field": "lead_id", "value": "12345", "lead_id": "12345",
             "phone": "3055550000", "blocked": true, "reason": "Blocked by flag: lead_id=12345", "flag_id": "flag_1735084012346_xyz789ghi"}]"#,
    )
    .expect("attempts");
    std::fs::write(
        node.join("scheduler-config.json"),
        r#"{"enabled": true, "callbacksEnabled": true, "timezone": "America/Chicago",
            "schedule": {"days": [1, 2, 3, 4, 5], "startTime": "08:30", "endTime": "18:00"},
            "blackoutDates": ["2026-12-24"]}"#,
    )
    .expect("scheduler config");
    std::fs::write(
        node.join("request-queue.json"),
        r#"[{"id": "queue_1735084012345_abcdefg", "timestamp": "2024-12-24T23:00:00.000Z", "type": "call",
             "payload": {"phone_number": "3055554800", "lead_id": "Q1", "state": "FL"}, "retryCount": 0},
            {"id": "queue_1735084012346_bcdefgh", "timestamp": "2024-12-24T23:01:00.000Z", "type": "call",
             "payload": {"phone_number": "3055554801", "lead_id": "Q2"}, "retryCount": 0},
            {"id": "queue_1735084012347_cdefghi", "timestamp": "2024-12-24T23:02:00.000Z", "type": "call",
             "payload": {"lead_id": "Q3"}, "retryCount": 0}]"#,
    )
    .expect("queue");
    std::fs::write(
        node.join("call-protection-config.json"),
        r#"{"enabled": true, "rules": {"block_on_transferred": true}, "duplicate_window_minutes": 15,
            "max_daily_attempts_per_number": 2, "allow_different_lead_ids": false}"#,
    )
    .expect("protection config");
    let data = path_str(&dir.path().join("data"));
    let from = path_str(&node);
    let (out, stderr) = run_binary(&["migrate", "--from", &from], &[("DATA_DIR", &data)]);
    assert!(out.status.success(), "{stderr}");
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        report.contains("flags: 2 imported, 0 already imported, 1 merged as duplicates, 1 invalid"),
        "{report}"
    );
    assert!(
        report.contains("attempts: 1 files, 2 imported, 0 already imported"),
        "{report}"
    );
    let doc: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("data/blocklist-config.json")).expect("doc"),
    )
    .expect("json");
    assert_eq!(doc["flags"][0]["id"], "flag_1735084012345_abc123def");
    assert_eq!(doc["flags"][0]["value"], "+13055551234");
    assert_eq!(doc["flags"][0]["added_at"], "2024-12-24T15:30:00.000Z");
    let lines = std::fs::read_to_string(
        dir.path()
            .join("data/blocklist-attempts/attempts_2024-12-24.jsonl"),
    )
    .expect("jsonl");
    assert_eq!(lines.lines().count(), 2);
    let first: Value = serde_json::from_str(lines.lines().next().expect("line")).expect("json");
    assert_eq!(first["lead_id"], "67890");
    assert_eq!(first["source"], "flag");
    assert!(
        report.contains("scheduler config: imported; protection config: imported"),
        "{report}"
    );
    assert!(
        report.contains("queued leads: 2 in the deferred queue (due now), 1 invalid"),
        "{report}"
    );
    let sched: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("data/scheduler-config.json")).expect("doc"),
    )
    .expect("json");
    assert_eq!(sched["timezone"], "America/Chicago");
    assert_eq!(
        sched["hours"]["fri"],
        json!({"start": "08:30", "end": "18:00"})
    );
    assert_eq!(sched["hours"]["sat"], Value::Null);
    assert_eq!(sched["blackout_dates"], json!(["2026-12-24"]));
    let prot: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("data/protection-config.json")).expect("doc"),
    )
    .expect("json");
    assert_eq!(prot["duplicate_window_minutes"], 15);
    assert_eq!(prot["max_daily_attempts_per_number"], 2);
    let queued_ids = || -> std::collections::HashSet<String> {
        std::fs::read_to_string(dir.path().join("data/deferred/queue.jsonl"))
            .expect("queue")
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v["id"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(queued_ids().len(), 2);

    let (out, _) = run_binary(&["migrate", "--from", &from], &[("DATA_DIR", &data)]);
    let again = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        again.contains("flags: 0 imported, 2 already imported"),
        "{again}"
    );
    assert!(
        again.contains("attempts: 1 files, 0 imported, 2 already imported"),
        "{again}"
    );
    assert!(
        again.contains("scheduler config: kept ours; protection config: kept ours"),
        "{again}"
    );
    assert_eq!(
        queued_ids().len(),
        2,
        "one entry per lead: nothing queued twice"
    );
    let lines = std::fs::read_to_string(
        dir.path()
            .join("data/blocklist-attempts/attempts_2024-12-24.jsonl"),
    )
    .expect("jsonl");
    assert_eq!(lines.lines().count(), 2);
}
