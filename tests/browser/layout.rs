//! What the second trial found on screen (issue 22): dry runs and unmatched completions
//! counted on Today, times in the business timezone with UTC on hover, the statistics
//! table fitting 1280 px with dates on one line, empty tables at phone width, and the
//! Settings form in words (closed days without hours, a choice for the unknown zone).

use serde_json::{json, Value};

use crate::driver::{launch, Browser};
use crate::helpers::{spawn_app, ADMIN_KEY};
use crate::setup::post;

async fn sign_in(b: &Browser, app: &crate::helpers::TestApp) {
    b.goto(&app.url("/console")).await;
    b.type_into("#api-key", ADMIN_KEY).await;
    b.click("#sign-in button[type=submit]").await;
    b.text_contains("#today-leads", "Business date").await;
}

/// Elements matching `css` whose content is wider than their box (they scroll sideways).
async fn overflowing(b: &Browser, css: &str) -> Value {
    b.js(&format!(
        "return [...document.querySelectorAll('{css}')].filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => `${{(e.querySelector('table') || e).id || e.className}} ${{e.scrollWidth}}>${{e.clientWidth}}`)"
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn today_counts_dry_runs_and_unmatched_and_shows_times_in_the_business_zone() {
    // Dry run (no Bland key): the accepted call is logged, not sent.
    let app = spawn_app().await;
    let Some(b) = launch(1280, 800).await else {
        return;
    };
    let answer = post(
        &app,
        "/webhooks/lead",
        json!({"lead_id": "D-1", "phone_number": "3055552180"}),
    )
    .await;
    assert_eq!(answer["decision"], "accepted", "{answer}");
    post(
        &app,
        "/webhooks/bland",
        json!({"call_id": "not-ours", "answered_by": "human"}),
    )
    .await;
    sign_in(&b, &app).await;
    b.text_where("#today-dry-run", |t| t == "1").await;
    b.text_where("#today-unmatched", |t| t == "1").await;
    b.text_where("#today-outcome-human", |t| t == "0").await;
    b.text_contains("#today-leads", "times in America/New_York")
        .await;
    // A time in the lookup: Eastern on the page, UTC on hover.
    b.click("a[data-page=lookup]").await;
    b.type_into("#lookup-q", "3055552180").await;
    b.click("#lookup-form button[type=submit]").await;
    let shown = b.text_contains("#lookup-out time", "EST").await;
    assert!(shown.contains("2026-11-23 10:00:00"), "{shown}");
    let title = b
        .js("return document.querySelector('#lookup-out time').title")
        .await;
    assert_eq!(title, json!("2026-11-23 15:00:00Z (UTC)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statistics_table_fits_1280_px_with_each_date_on_one_line() {
    let app = spawn_app().await;
    let Some(b) = launch(1280, 800).await else {
        return;
    };
    sign_in(&b, &app).await;
    b.click("a[data-page=statistics]").await;
    b.text_contains("#stats-table", "Total").await;
    assert_eq!(overflowing(&b, ".table-wrap").await, json!([]));
    let wrapped = b
        .js("return [...document.querySelectorAll('#stats-table td.day')].filter((td) => td.getClientRects().length !== 1 || td.offsetHeight > 2 * parseFloat(getComputedStyle(td).lineHeight)).length")
        .await;
    assert_eq!(wrapped, json!(0), "a date wrapped");
    b.text_contains("#stats-table thead", "Blocked by").await;
    b.text_contains("#stats-table thead", "Dry runs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_phone_width_empty_tables_are_one_line_and_nothing_scrolls_sideways() {
    let app = spawn_app().await;
    let Some(b) = launch(390, 844).await else {
        return;
    };
    sign_in(&b, &app).await;
    b.find("#today-unconfirmed").await;
    // Nothing in flight, nothing unconfirmed: a line each, not a table of headers.
    let empty = b
        .js("return document.querySelectorAll('#page-today .empty-table').length")
        .await;
    assert!(empty.as_u64() >= Some(2), "{empty}");
    assert_eq!(overflowing(&b, "#page-today .table-wrap").await, json!([]));
    let page_wide = b
        .js("return document.documentElement.scrollWidth > window.innerWidth + 1")
        .await;
    assert_eq!(page_wide, json!(false), "the page scrolls sideways");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_hide_a_closed_days_hours_offer_a_choice_for_the_unknown_zone_and_say_what_each_box_does(
) {
    let app = spawn_app().await;
    let Some(b) = launch(1280, 900).await else {
        return;
    };
    sign_in(&b, &app).await;
    b.click("a[data-page=settings]").await;
    b.find("#form-scheduler").await;
    let hidden = |day: &str| format!("return document.getElementById('hours-{day}-times').hidden");
    assert_eq!(
        b.js(&hidden("sat")).await,
        json!(true),
        "Saturday is closed"
    );
    assert_eq!(b.js(&hidden("mon")).await, json!(false));
    b.click("#hours-sat-open").await;
    assert_eq!(
        b.js(&hidden("sat")).await,
        json!(false),
        "ticked: its hours show"
    );
    let choice = b
        .js("const s = document.querySelector('[data-path=\"local_window.unknown_zone\"]'); return [s.tagName, [...s.options].map((o) => o.value)]")
        .await;
    assert_eq!(choice, json!(["SELECT", ["block", "all_us_zones"]]));
    let labels = b
        .js("return [...document.querySelectorAll('#form-scheduler label, #form-scheduler legend')].map((l) => l.textContent.trim())")
        .await;
    let labels: Vec<String> = serde_json::from_value(labels).expect("labels");
    assert!(
        labels.iter().any(|l| l.starts_with("Scheduler on")),
        "{labels:?}"
    );
    assert!(
        labels.iter().all(|l| !l.contains('_')),
        "raw key names: {labels:?}"
    );
    assert!(
        labels.iter().all(|l| l != "enabled"),
        "a bare box: {labels:?}"
    );
    // Saving the choice sends the API's word.
    b.js("const s = document.querySelector('[data-path=\"local_window.unknown_zone\"]'); s.value = 'all_us_zones'; return true")
        .await;
    b.click("#form-scheduler button[type=submit]").await;
    b.text_contains("#toast", "saved").await;
    let doc = app.get_json("/api/admin/scheduler/config").await;
    assert_eq!(doc["local_window"]["unknown_zone"], "all_us_zones", "{doc}");
    assert_eq!(doc["hours"]["sat"]["start"], "09:00", "{doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn today_shows_the_hourly_budget_and_the_lookup_a_call_placed_elsewhere() {
    // Dry run with a budget of one call an hour: the second lead waits in the outbox.
    let app = crate::helpers::spawn_app_with(|s| s.bland.max_calls_per_hour = Some(1)).await;
    let Some(b) = launch(1280, 800).await else {
        return;
    };
    for (id, phone) in [("B-1", "3055552190"), ("B-2", "3055552191")] {
        let answer = post(
            &app,
            "/webhooks/lead",
            json!({"lead_id": id, "phone_number": phone}),
        )
        .await;
        assert_eq!(answer["decision"], "accepted", "{answer}");
    }
    let recorded = post(
        &app,
        "/webhooks/attempt",
        json!({"lead_id": "B-3", "phone_number": "3055552192", "source": "convoso", "id": "log-9"}),
    )
    .await;
    assert_eq!(recorded["status"], "recorded", "{recorded}");
    sign_in(&b, &app).await;
    let note = b
        .text_contains("#health-note-dispatch", "1 of 1 calls this hour")
        .await;
    assert!(
        note.contains("calls held until 2026-11-23 11:00:00"),
        "{note}"
    );
    b.click("a[data-page=lookup]").await;
    b.type_into("#lookup-q", "3055552192").await;
    b.click("#lookup-form button[type=submit]").await;
    let row = b.text_contains("#lookup-out", "placed by convoso").await;
    assert!(row.contains("log-9"), "{row}");
}
