//! Background jobs the README names, each seen doing its work in the real server with no
//! admin route called (issue 22's rule): the feed refresh timer, the blocklist's
//! compaction, the day roll of the per-number counts. The others have theirs beside
//! their features: release rounds (`scheduler.rs`), redial release (`redials.rs`),
//! reconciliation (`reconcile.rs`), the write-back sender (`convoso.rs`), retention at
//! startup (`pipeline_stats.rs`).

use std::time::Duration;

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::feeds::feed;
use crate::helpers::{eventually, spawn_app_with};
use crate::intake::post_lead;
use callgate::config::FeedKind;

#[tokio::test]
async fn a_feed_is_fetched_again_by_its_timer_and_its_new_numbers_block() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/numbers"))
        .respond_with(ResponseTemplate::new(200).set_body_string("3055552201\n"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/numbers"))
        .respond_with(ResponseTemplate::new(200).set_body_string("3055552201\n3055552202\n"))
        .with_priority(2)
        .mount(&server)
        .await;
    let url = format!("{}/numbers", server.uri());
    let app = spawn_app_with(move |s| {
        let mut f = feed("refreshing", FeedKind::Numbers, url);
        f.refresh = Duration::from_secs(1);
        s.feeds = vec![f];
    })
    .await;
    // The second number arrives with a later fetch, made by the timer alone.
    let blocked = eventually(Duration::from_secs(15), || async {
        let f = app.get_json("/api/admin/blocklist/feeds").await;
        (f["feeds"][0]["entries"] == 2).then_some(())
    })
    .await;
    assert!(blocked.is_some(), "the feed was never fetched again");
    let (_, body) = post_lead(
        &app,
        json!({"phone_number": "3055552202", "lead_id": "F-2"}),
    )
    .await;
    assert_eq!(
        (body["decision"].as_str(), body["stage"].as_str()),
        (Some("blocked"), Some("blocklist")),
        "{body}"
    );
    assert!(server.received_requests().await.unwrap_or_default().len() >= 2);
}

#[tokio::test]
async fn the_change_log_is_folded_into_the_document_by_the_server_itself() {
    if crate::helpers::file_backend_only() {
        return;
    }
    let app = spawn_app_with(|s| s.blocklist_compact_after = 3).await;
    for n in 0..3 {
        let res = app
            .post_json(
                "/api/admin/blocklist",
                json!({"field": "phone", "value": format!("305555{:04}", 2210 + n)}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let doc_path = app.data_dir().join("blocklist-config.json");
    let log_path = app.data_dir().join("blocklist-changes.jsonl");
    let folded = eventually(Duration::from_secs(10), || async {
        let doc: Value = serde_json::from_slice(&std::fs::read(&doc_path).ok()?).ok()?;
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        (doc["flags"].as_array().map(Vec::len) == Some(3) && log.trim().is_empty()).then_some(())
    })
    .await;
    assert!(folded.is_some(), "the change log was never folded in");
}

#[tokio::test]
async fn the_daily_cap_rolls_over_at_the_business_midnight() {
    let app = spawn_app_with(|_| {}).await;
    let res = app
        .admin(reqwest::Method::PUT, "/api/admin/protection/config")
        .json(&json!({"max_daily_attempts_per_number": 1}))
        .send()
        .await
        .expect("config");
    assert_eq!(res.status(), 200);
    let lead = |id: &str| json!({"phone_number": "3055552220", "lead_id": id});
    let (_, first) = post_lead(&app, lead("C-1")).await;
    assert_eq!(first["decision"], "accepted", "{first}");
    let (_, second) = post_lead(&app, lead("C-2")).await;
    assert!(
        second["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("daily cap")),
        "{second}"
    );
    // The next business day, 10:00 Eastern: the count starts again.
    app.clock.advance(chrono::TimeDelta::days(1));
    let (_, third) = post_lead(&app, lead("C-3")).await;
    assert_eq!(third["decision"], "accepted", "{third}");
}

#[tokio::test]
async fn in_database_mode_retention_removes_old_journal_rows_by_itself() {
    if !crate::helpers::on_postgres() {
        return; // the file backend's retention at startup: `pipeline_stats.rs`
    }
    let app = spawn_app_with(|s| s.retention_days = 30).await;
    // The old line goes in while no instance runs, so the startup pass cannot race it.
    let journals = app.journals().await;
    let (settings, dir, bland, clock) = app.stop().await;
    let old = callgate::journal::CallEvent::Rejected {
        timestamp: "2026-10-01T15:00:00Z".parse().expect("instant"),
        request_id: "req_old".into(),
        errors: vec!["old".into()],
    };
    journals
        .append_call(&old)
        .wait()
        .await
        .expect("an old line");
    let day = "2026-10-01".parse().expect("date");
    let reader = journals.clone();
    let written = tokio::task::spawn_blocking(move || {
        reader.read_day(callgate::journal::Kind::Calls, day, None)
    })
    .await
    .expect("reader")
    .expect("journal");
    assert_eq!(written.records.len(), 1, "the old line is written");
    // The retention task runs at startup and then every minute, on the lease holder.
    let app = crate::helpers::start(settings, dir, bland, clock).await;
    let gone = eventually(Duration::from_secs(10), || async {
        app.calls("2026-10-01").await.is_empty().then_some(())
    })
    .await;
    assert!(gone.is_some(), "the old line was never removed");
}
