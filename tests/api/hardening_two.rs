//! The second black-box trial (issue 22), what is lost or kept: unreadable lines in every
//! replayed file, completions that cannot be recorded or that overtake their send. Each
//! test failed before its fix; what the gateway answers is in `hardening_answers.rs`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{eventually, spawn_app_with, TestApp};
use crate::intake::{live, post_lead};

/// A line cut short, as a crash mid-write would leave it, then more lines after it.
const CUT: &str = "{\"op\":\"put\",\"request_id\":\"req_cut\"";

fn insert_damage(file: &std::path::Path) {
    let body = std::fs::read_to_string(file).unwrap_or_default();
    assert!(!body.is_empty(), "{} has lines", file.display());
    // A line cut short at the start (followed by every good line), and a torn tail.
    std::fs::write(file, format!("{CUT}\n{body}{CUT}")).expect("write");
}

async fn quarantined_files(app: &TestApp) -> Vec<String> {
    let q = app.get_json("/api/admin/quarantine").await;
    let mut files: Vec<String> = q["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            assert_eq!(l["line"], CUT, "{l}");
            assert_eq!(l["offset"], 0, "{l}");
            let f = l["file"].as_str().expect("file");
            f.rsplit('/').next().unwrap_or(f).to_string()
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_line_cut_short_mid_file_is_quarantined_in_every_replayed_file_and_only_the_tail_is_torn()
{
    if crate::helpers::file_backend_only() {
        return;
    }
    let app = spawn_app_with(live).await;
    // Bland is down: the accepted call stays in the outbox.
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&app.bland)
        .await;
    let (status, body) = post_lead(
        &app,
        json!({"phone_number": "3055552101", "lead_id": "Q-1", "state": "FL"}),
    )
    .await;
    assert_eq!(
        (status, body["decision"].as_str()),
        (StatusCode::ACCEPTED, Some("accepted"))
    );
    let accepted = body["request_id"].as_str().expect("id").to_string();
    // 7 a.m. in California: deferred.
    let (_, body) = post_lead(
        &app,
        json!({"phone_number": "4155552102", "lead_id": "Q-2", "state": "CA"}),
    )
    .await;
    assert_eq!(body["decision"], "deferred", "{body}");
    // A blocked lead writes the attempts journal.
    app.post_json(
        "/api/admin/blocklist",
        json!({"field": "phone_number", "value": "3055552104"}),
    )
    .await;
    post_lead(
        &app,
        json!({"phone_number": "3055552104", "lead_id": "Q-4"}),
    )
    .await;
    let (settings, dir, bland, clock) = app.stop().await;
    let data = settings.data_dir.clone();
    let files = [
        data.join("outbox/outbox.jsonl"),
        data.join("deferred/queue.jsonl"),
        data.join("calls/calls_2026-11-23.jsonl"),
        data.join("blocklist-attempts/attempts_2026-11-23.jsonl"),
    ];
    for f in &files {
        insert_damage(f);
    }
    let app = crate::helpers::start(settings, dir, bland, clock).await;
    // Every good line after the damaged one still counts.
    let pending = app.get_json("/api/admin/calls/pending").await;
    assert!(pending.to_string().contains(&accepted), "{pending}");
    let queue = app.get_json("/api/admin/scheduler/queue").await;
    assert_eq!(queue["total"], 1, "{queue}");
    let today = app.get_json("/api/admin/blocklist/attempts/today").await;
    assert_eq!(today["blocked_count"], 1, "{today}");
    app.get_json("/api/admin/statistics?start=2026-11-23&end=2026-11-23")
        .await;
    let kept = eventually(Duration::from_secs(3), || async {
        let files = quarantined_files(&app).await;
        (files.len() >= 4).then_some(files)
    })
    .await
    .unwrap_or_else(|| panic!("not every damaged file reached the quarantine"));
    assert_eq!(
        kept,
        [
            "attempts_2026-11-23.jsonl",
            "calls_2026-11-23.jsonl",
            "outbox.jsonl",
            "queue.jsonl"
        ],
        "each middle line once; no torn tail"
    );
    let health = app.health().await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["components"]["quarantine"]["unacknowledged"], 4);
    // A torn tail was never acknowledged: it is cut off before the next line is appended,
    // so a later restart does not find it mid-file.
    post_lead(
        &app,
        json!({"phone_number": "3055552104", "lead_id": "Q-5"}),
    )
    .await;
    let app = app.restart().await;
    assert_eq!(quarantined_files(&app).await.len(), 4, "nothing new");
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        assert!(!text.trim_end().ends_with(CUT), "{}: {text}", f.display());
    }
}

/// A fresh app's data directory with `name` (relative to it) written as `text` before the
/// app starts.
async fn started_with(name: &str, text: String) -> TestApp {
    let app = spawn_app_with(|_| {}).await;
    let (settings, dir, bland, clock) = app.stop().await;
    let file = settings.data_dir.join(name);
    std::fs::create_dir_all(file.parent().expect("dir")).expect("mkdir");
    std::fs::write(&file, text).expect("write");
    crate::helpers::start(settings, dir, bland, clock).await
}

#[tokio::test]
async fn a_cut_convoso_write_line_mid_file_is_quarantined() {
    if crate::helpers::file_backend_only() {
        return;
    }
    let app = started_with("convoso/writes.jsonl", format!("{CUT}\n{CUT}")).await;
    assert_eq!(quarantined_files(&app).await, ["writes.jsonl"]);
    assert_eq!(app.health().await["status"], "degraded");
}

#[tokio::test]
async fn a_cut_blocklist_change_line_mid_file_refuses_to_start_and_a_torn_tail_is_skipped() {
    if crate::helpers::file_backend_only() {
        return;
    }
    let put = json!({"op": "put", "flag": {"id": "f1", "field": "phone_number",
        "value": "+13055552110", "added_at": "2026-11-23T14:00:00Z"}});
    let app = started_with("blocklist-changes.jsonl", format!("{put}\n{CUT}")).await;
    let log = app.data_dir().join("blocklist-changes.jsonl");
    let flags = app.get_json("/api/admin/blocklist").await;
    assert_eq!(
        flags["flags_count"], 1,
        "the good line applied, the tail torn: {flags}"
    );
    let (settings, dir, _, clock) = app.stop().await;
    std::fs::write(&log, format!("{CUT}\n{put}\n")).expect("write");
    // A flag change that cannot be read could be a number that must not be called: the
    // server does not start without it, and says where it is.
    let err = match callgate::startup::Application::build_with_clock(settings, clock).await {
        Ok(_) => panic!("started with an unreadable flag change"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("blocklist-changes.jsonl") && err.contains("line 1"),
        "{err}"
    );
    drop(dir);
}

#[tokio::test]
async fn a_completion_that_cannot_be_recorded_is_503_naming_the_store_and_a_retry_records_it() {
    let app = spawn_app_with(live).await;
    crate::intake::bland_takes(&app.bland).await;
    let (_, body) = post_lead(
        &app,
        json!({"phone_number": "3055552130", "lead_id": "C-1"}),
    )
    .await;
    let id = body["request_id"].as_str().expect("accepted").to_string();
    crate::helpers::wait_sent(&app, &id).await;
    // The store fails: the database goes away, or the next day's journal cannot be created.
    let blocker = app.data_dir().join("calls/calls_2026-11-24.jsonl");
    match app.dir.db.as_ref() {
        Some(db) => db
            .set_reachable(false)
            .await
            .expect("take the database away"),
        None => {
            std::fs::create_dir_all(&blocker).expect("a directory where the file goes");
            app.clock.advance(chrono::TimeDelta::days(1));
        }
    }
    let completion = json!({"call_id": format!("call-{id}"), "answered_by": "voicemail"});
    let post = || app.post_completion(&completion);
    let (status, body) = post().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["success"], false);
    let error = body["error"].as_str().expect("error");
    assert!(
        error.contains("could not") && error.contains("retry later"),
        "{error}"
    );
    match app.dir.db.as_ref() {
        Some(db) => db.set_reachable(true).await.expect("bring it back"),
        None => std::fs::remove_dir(&blocker).expect("remove"),
    }
    // Bland's retry is recorded.
    let recorded = eventually(Duration::from_secs(5), || async {
        let (status, body) = post().await;
        (status == StatusCode::OK).then_some(body)
    })
    .await
    .expect("recorded once the store answers");
    assert_eq!(recorded["status"], "recorded", "{recorded}");
}

#[tokio::test]
async fn a_completion_that_overtakes_its_send_is_matched_and_an_unmatched_one_changes_nothing() {
    let app = spawn_app_with(live).await;
    // Bland answers our POST late; its completion comes back before the answer.
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_millis(600))
                .set_body_json(json!({"status": "success", "call_id": "bland-fast"})),
        )
        .mount(&app.bland)
        .await;
    let (_, body) = post_lead(
        &app,
        json!({"phone_number": "3055552140", "lead_id": "F-1"}),
    )
    .await;
    let id = body["request_id"].as_str().expect("accepted").to_string();
    eventually(Duration::from_secs(5), || async {
        let n = app
            .bland
            .received_requests()
            .await
            .unwrap_or_default()
            .len();
        (n > 0).then_some(())
    })
    .await
    .expect("the send is in flight");
    let completion = json!({"call_id": "bland-fast", "answered_by": "voicemail",
        "metadata": {"request_id": id, "lead_id": "F-1"}});
    let (status, answer) = app.post_completion(&completion).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["status"], "recorded", "{answer}");
    let view = app.get_json(&format!("/api/admin/calls/{id}")).await;
    assert_eq!(view["outcome"]["outcome"], "voicemail", "{view}");
    let stats = "/api/admin/statistics?start=2026-11-23&end=2026-11-23";
    let before = app.get_json(stats).await["total"].clone();
    assert_eq!(before["outcomes"]["voicemail"], 1, "{before}");
    // Completions for a call we never placed: journaled, counted apart, nothing else moves.
    assert_eq!(stranger(&app).await, "unmatched");
    assert_eq!(stranger(&app).await, "duplicate", "journaled once");
    let after = app.get_json(stats).await["total"].clone();
    assert_eq!(after["outcomes"], before["outcomes"], "{after}");
    assert_eq!(after["answered"], before["answered"]);
    assert_eq!(after["unmatched"], 1, "{after}");
    // Still known after a restart.
    let app = app.restart().await;
    assert_eq!(stranger(&app).await, "duplicate");
    assert_eq!(app.get_json(stats).await["total"]["unmatched"], 1);
}

/// A completion for a call we never placed: what the webhook answers.
async fn stranger(app: &TestApp) -> String {
    let payload = json!({"call_id": "not-ours", "answered_by": "human", "call_length": 2});
    let (_, answer) = app.post_completion(&payload).await;
    answer["status"].as_str().unwrap_or_default().to_string()
}
