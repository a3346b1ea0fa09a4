//! The console's flows, each checked against what the API then holds.

use std::time::Duration;

use callgate::config::Secret;
use serde_json::json;

use crate::driver::{launch, Browser};
use crate::helpers::{bland_hangs, eventually, spawn_app_with, TestApp, ADMIN_KEY};
use crate::setup::post;

const FLAGGED: &str = "+13055551234";

async fn sign_in(b: &Browser, app: &TestApp, key: &str) {
    b.goto(&app.url("/console")).await;
    b.type_into("#api-key", key).await;
    b.click("#sign-in button[type=submit]").await;
}

fn live(s: &mut callgate::config::Settings) {
    s.bland.api_key = Some(Secret::new("bland-test-key"));
    s.bland.retry_base_ms = 10;
    s.bland.timeout_secs = 1;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_signs_in_flags_a_number_sees_the_block_traces_it_and_resolves_a_call() {
    let app = spawn_app_with(live).await;
    let Some(b) = launch(1280, 800).await else {
        return;
    };
    bland_hangs(&app).await;

    // A wrong key shows the API's message; the right one opens Today.
    sign_in(&b, &app, "not-the-key").await;
    b.text_contains("#sign-in-error", "invalid API key").await;
    let nav = b
        .js("return getComputedStyle(document.getElementById('nav')).display")
        .await;
    assert_eq!(nav, json!("none"), "no navigation before signing in");
    sign_in(&b, &app, ADMIN_KEY).await;
    b.text_contains("#today-leads", "Business date 2026-11-23")
        .await;
    let stored = b
        .js("return sessionStorage.getItem('callgate.adminKey')")
        .await;
    assert_eq!(stored, json!(ADMIN_KEY));
    let url = b.client.current_url().await.expect("url");
    assert!(
        !url.as_str().contains(ADMIN_KEY),
        "the key is never in a URL"
    );
    let cookies = b.js("return document.cookie").await;
    assert_eq!(cookies, json!(""));

    // Add a flag: a bad value is shown at the field, a good one is listed.
    b.click("a[data-page=flags]").await;
    b.type_into("#add-value", "123").await;
    b.click("#add-flag button[type=submit]").await;
    b.text_contains("#add-value-error", "invalid phone value")
        .await;
    b.type_into("#add-value", "(305) 555-1234").await;
    b.type_into("#add-reason", "asked not to be called").await;
    b.click("#add-flag button[type=submit]").await;
    b.text_contains("#flags-table", FLAGGED).await;
    b.text_contains("#flags-table", "asked not to be called")
        .await;
    let flags = app.get_json("/api/admin/blocklist").await;
    assert_eq!(flags["flags"][0]["value"], FLAGGED);
    assert_eq!(flags["flags"][0]["added_by"], "console");

    // A lead for that number is blocked, and Today counts it.
    let answer = post(
        &app,
        "/webhooks/lead",
        json!({"lead_id": "L-7", "phone_number": "305.555.1234"}),
    )
    .await;
    assert_eq!(answer["decision"], "blocked");
    b.click("a[data-page=today]").await;
    b.text_where("#today-blocked-blocklist", |t| t == "1").await;
    b.text_where("#today-received", |t| t == "1").await;

    // Lead lookup in another spelling: the decision and its trace; check now agrees.
    b.click("a[data-page=lookup]").await;
    b.type_into("#lookup-q", "305 555 1234").await;
    b.click("#lookup-form button[type=submit]").await;
    let trace = b.text_contains("#lookup-out", "Blocked by flag").await;
    for check in ["schedule", "answering_machine", "protection", "blocklist"] {
        assert!(trace.contains(check), "trace lists {check}: {trace}");
    }
    b.click("#check-now").await;
    b.text_contains("#check-result", "blocked by blocklist")
        .await;

    // A call Bland never confirmed: mark it sent with Bland's call id.
    let accepted = post(
        &app,
        "/webhooks/lead",
        json!({"lead_id": "L-8", "phone_number": "3055559876"}),
    )
    .await;
    assert_eq!(accepted["decision"], "accepted", "{accepted}");
    let id = accepted["request_id"].as_str().expect("id").to_string();
    eventually(Duration::from_secs(10), || async {
        let p = app.get_json("/api/admin/calls/pending").await;
        (p["unconfirmed"] == 1).then_some(())
    })
    .await
    .expect("the call becomes unconfirmed");
    b.click("a[data-page=lookup]").await;
    b.click("a[data-page=today]").await;
    b.text_contains("#unconfirmed-table", &id).await;
    b.click("#unconfirmed-table button[data-action=sent]").await;
    b.type_into("#resolve-call-id", "bland-call-42").await;
    b.click("#dialog button[value=ok]").await;
    b.text_contains("#toast", &id).await;
    let call = app.get_json(&format!("/api/admin/calls/{id}")).await;
    assert_eq!(call["call_id"], "bland-call-42", "{call}");
    assert_eq!(
        app.get_json("/api/admin/calls/pending").await["unconfirmed"],
        0
    );
    b.text_where("#today-unconfirmed-count", |t| t == "0").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_show_the_apis_field_error_at_the_field_and_save_good_values() {
    let app = spawn_app_with(|_| {}).await;
    let Some(b) = launch(1280, 800).await else {
        return;
    };
    sign_in(&b, &app, ADMIN_KEY).await;
    b.find("#today-leads").await;
    b.click("a[data-page=settings]").await;
    b.type_into("#hours-mon-start", "25:00").await;
    b.click("#form-scheduler button[type=submit]").await;
    let error = b.text_contains("#hours-mon-error", "hours.mon").await;
    assert!(error.contains("25:00"), "{error}");
    let config = app.get_json("/api/admin/scheduler/config").await;
    assert_eq!(config["hours"]["mon"]["start"], "09:00", "nothing changed");

    b.type_into("#hours-mon-start", "08:30").await;
    b.click("#hours-sat-open").await;
    b.click("#form-scheduler button[type=submit]").await;
    b.text_contains("#toast", "saved").await;
    let config = app.get_json("/api/admin/scheduler/config").await;
    assert_eq!(
        config["hours"]["mon"],
        json!({"start": "08:30", "end": "17:00"})
    );
    assert_eq!(
        config["hours"]["sat"],
        json!({"start": "09:00", "end": "17:00"})
    );

    // The answering-machine document: a number field, saved as a number.
    b.type_into("#f-max_attempts_per_day", "6").await;
    b.click("#form-am button[type=submit]").await;
    b.text_contains("#toast", "Answering machine: saved").await;
    let am = app.get_json("/api/admin/answering-machine/config").await;
    assert_eq!(am["max_attempts_per_day"], 6);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_admin_key_configured_the_console_says_so() {
    let app = spawn_app_with(|s| s.admin_api_keys.clear()).await;
    let Some(b) = launch(1280, 800).await else {
        return;
    };
    b.goto(&app.url("/")).await;
    b.text_contains("#sign-in-error", "ADMIN_API_KEY").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_upload_in_bulk_with_the_invalid_lines_then_search_edit_and_delete() {
    let app = spawn_app_with(|_| {}).await;
    let Some(b) = launch(1280, 800).await else {
        return;
    };
    let csv = app.data_dir().with_file_name("flags.csv");
    std::fs::write(
        &csv,
        "field,value,reason\nphone,3055551201,moved\nphone,12,too short\nemail,a@example.com,bounced\n",
    )
    .expect("csv");
    sign_in(&b, &app, ADMIN_KEY).await;
    b.find("#today-leads").await;
    b.click("a[data-page=flags]").await;
    b.find("#bulk-file")
        .await
        .send_keys(&csv.to_string_lossy())
        .await
        .expect("file chosen");
    b.click("#bulk-upload button[type=submit]").await;
    b.text_contains("#bulk-summary", "2 added, 0 already there, 1 invalid")
        .await;
    let invalid = b.text_contains("#bulk-invalid", "12").await;
    assert!(invalid.contains('3'), "line 3 is the bad one: {invalid}");
    b.text_contains("#flags-count", "of 2 flags").await;

    // Search narrows the list; edit the reason; delete after confirming.
    b.type_into("#flags-search", "example").await;
    b.click("#flags-filter button[type=submit]").await;
    b.text_contains("#flags-count", "1–1 of 1 flags").await;
    b.click("#flags-table button.secondary").await;
    b.type_into("#edit-reason", "hard bounce").await;
    b.click("#edit-flag button[type=submit]").await;
    b.text_contains("#flags-table", "hard bounce").await;
    let flags = app.get_json("/api/admin/blocklist?field=email").await;
    assert_eq!(flags["flags"][0]["reason"], "hard bounce");

    b.click("#flags-table button.danger").await;
    b.click("#dialog button[value='']").await;
    b.text_contains("#flags-table", "a@example.com").await;
    assert_eq!(app.get_json("/api/admin/blocklist").await["flags_count"], 2);
    b.click("#flags-table button.danger").await;
    b.click("#dialog button[value=yes]").await;
    b.text_contains("#flags-count", "No flags match").await;
    let left = app.get_json("/api/admin/blocklist").await;
    assert_eq!(left["flags_count"], 1);
    assert_eq!(left["flags"][0]["value"], "+13055551201");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_now_runs_on_the_fields_the_lead_came_with_not_its_number_alone() {
    let app = spawn_app_with(|_| {}).await;
    let Some(b) = launch(1280, 800).await else {
        return;
    };
    // A Convoso status that says do-not-call: blocked by protection for this lead only.
    let answer = post(
        &app,
        "/webhooks/lead",
        json!({"lead_id": "L-9", "phone_number": "3055552160", "status": "DNC", "state": "FL"}),
    )
    .await;
    assert_eq!(
        (answer["decision"].as_str(), answer["stage"].as_str()),
        (Some("blocked"), Some("protection")),
        "{answer}"
    );
    sign_in(&b, &app, ADMIN_KEY).await;
    b.text_contains("#today-leads", "Business date").await;
    b.click("a[data-page=lookup]").await;
    b.type_into("#lookup-q", "3055552160").await;
    b.click("#lookup-form button[type=submit]").await;
    b.text_contains("#lookup-out", "DNC").await;
    b.click("#check-now").await;
    // The number alone would be accepted; with its fields the answer is the lead's own.
    b.text_contains("#check-result", "blocked by protection")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_rests_a_caller_id_with_a_reason_and_brings_it_back() {
    let app = spawn_app_with(|s| {
        s.caller_ids = vec![json!({"number": "+13125550123", "hourly_cap": 20})];
    })
    .await;
    let Some(b) = launch(1280, 800).await else {
        return;
    };
    sign_in(&b, &app, ADMIN_KEY).await;
    b.text_contains("#today-leads", "Business date").await;
    b.click("a[data-page=callerids]").await;
    b.text_contains("#caller-ids-table", "+13125550123").await;
    b.text_contains("#caller-ids-table", "usable").await;
    b.text_contains("#caller-ids-table", "0 / 20").await;
    b.click("#caller-ids-table tr[data-number='+13125550123'] button")
        .await;
    b.type_into("#rest-reason", "labelled spam").await;
    b.click("#dialog button[value=yes]").await;
    b.text_contains("#caller-ids-table", "admin: labelled spam")
        .await;
    let doc = app.get_json("/api/admin/caller-ids/config").await;
    assert_eq!(
        doc["numbers"]["+13125550123"]["rested"]["reason"], "labelled spam",
        "{doc}"
    );
    b.click("#caller-ids-table tr[data-number='+13125550123'] button")
        .await;
    b.text_where("#caller-ids-table", |t| !t.contains("labelled spam"))
        .await;
    let doc = app.get_json("/api/admin/caller-ids/config").await;
    assert!(doc["numbers"]["+13125550123"]["rested"].is_null(), "{doc}");
}
