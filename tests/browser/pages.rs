//! Today's refresh, Statistics with its charts and CSV, a request looked up by its id, the
//! flags' export — and signing in with the keyboard alone.

use std::time::Duration;

use fantoccini::key::Key;
use serde_json::{json, Value};

use crate::driver::{launch, Browser};
use crate::helpers::{eventually, ADMIN_KEY};
use crate::setup::{bland_takes_calls, post};

/// Clicks "Refresh now" and waits for that refresh to finish.
async fn refresh(b: &Browser) {
    let count = |v: Value| v.as_str().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    let before = count(
        b.js("return document.getElementById('page-today').dataset.refreshes")
            .await,
    );
    b.click("#today-refresh").await;
    let started = std::time::Instant::now();
    while count(
        b.js("return document.getElementById('page-today').dataset.refreshes")
            .await,
    ) <= before
    {
        assert!(started.elapsed() < Duration::from_secs(15), "no refresh");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn today_refreshes_in_place_statistics_chart_and_download_and_a_request_is_traced() {
    let app = bland_takes_calls().await;
    let Some(b) = launch(1280, 800).await else {
        return;
    };
    let flag = json!({"field": "phone", "value": "3055551234", "reason": "asked"});
    app.admin(reqwest::Method::POST, "/api/admin/blocklist")
        .json(&flag)
        .send()
        .await
        .expect("flag");
    post(
        &app,
        "/webhooks/lead",
        json!({"lead_id": "B-1", "phone_number": "3055551234"}),
    )
    .await;
    let accepted = post(
        &app,
        "/webhooks/lead",
        json!({"lead_id": "A-1", "phone_number": "3055559876"}),
    )
    .await;
    let id = accepted["request_id"].as_str().expect("id").to_string();
    eventually(Duration::from_secs(10), || async {
        let call = app.get_json(&format!("/api/admin/calls/{id}")).await;
        (call["call_id"] == format!("call-{id}")).then_some(())
    })
    .await
    .expect("the call is sent");
    let completion =
        json!({"call_id": format!("call-{id}"), "answered_by": "human", "call_length": 2});
    post(&app, "/webhooks/bland", completion).await;

    // Signed in with the keyboard alone: type the key, press Enter.
    b.goto(&app.url("/console")).await;
    let input = b.find("#api-key").await;
    input.send_keys(ADMIN_KEY).await.expect("type");
    input
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("enter");
    b.text_where("#today-received", |t| t == "2").await;
    b.text_where("#today-outcome-human", |t| t == "1").await;
    b.text_contains("#today-answered-rate", "100.0").await;

    // A refresh with nothing new leaves the cards' nodes alone; a new lead redraws them.
    b.js("window.marked = document.querySelector('#today-leads dl')")
        .await;
    refresh(&b).await;
    let same = b
        .js("return window.marked === document.querySelector('#today-leads dl')")
        .await;
    assert_eq!(same, json!(true), "an unchanged card is not redrawn");
    post(
        &app,
        "/webhooks/lead",
        json!({"lead_id": "B-2", "phone_number": "(305) 555-1234"}),
    )
    .await;
    refresh(&b).await;
    b.text_where("#today-received", |t| t == "3").await;
    b.text_where("#today-blocked-blocklist", |t| t == "2").await;

    // Statistics: the charts, the table with its total, the top flag, the CSV — drawn
    // within the page's Content-Security-Policy (a violation would be recorded here).
    b.js("window.violations = [];
          document.addEventListener('securitypolicyviolation',
            (e) => window.violations.push(e.violatedDirective + ' ' + e.blockedURI));")
        .await;
    b.click("a[data-page=statistics]").await;
    b.text_contains("#stats-table", "Total").await;
    b.find("#chart-decisions canvas").await;
    b.find("#chart-outcomes canvas").await;
    b.text_contains("#top-flags", "+13055551234").await;
    b.text_contains("#stats-render", "7 days").await;
    assert_eq!(b.js("return window.violations").await, json!([]));
    b.click("#stats-csv").await;
    let csv = b.downloaded("statistics-2026-11-17-2026-11-23.csv").await;
    let served = app
        .admin(
            reqwest::Method::GET,
            "/api/admin/statistics?start=2026-11-17&end=2026-11-23&format=csv",
        )
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    assert_eq!(csv, served, "the download is the API's CSV");

    // The request looked up by id: its decision, the dispatch and the outcome.
    b.click("a[data-page=lookup]").await;
    b.type_into("#lookup-q", &id).await;
    b.click("#lookup-form button[type=submit]").await;
    let shown = b.text_contains("#lookup-out", &format!("call-{id}")).await;
    for word in ["accepted", "every check allowed the call", "sent", "human"] {
        assert!(shown.contains(word), "{word} in {shown}");
    }

    // The flags' export, as the API serves it.
    b.click("a[data-page=flags]").await;
    b.text_contains("#flags-table", "+13055551234").await;
    b.click("#flags-export-csv").await;
    let exported = b.downloaded("blocklist.csv").await;
    assert!(exported.starts_with("id,field,value,reason"), "{exported}");
    assert!(exported.contains("+13055551234"));
    b.close().await;
}
