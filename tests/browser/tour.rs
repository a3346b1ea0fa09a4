//! The console tour, run by `scripts/console-tour.sh DIR` (ignored otherwise): 90 business
//! days of journals made through the real API on a moving clock, then a screenshot of
//! every page at 1280×800 and at a phone's 390×844, and the performance figures the
//! README quotes — bytes of the first load, the time until Today shows data, and the
//! statistics page's render time over the 90 days. Measured and printed, never asserted.

use std::path::PathBuf;
use std::time::Duration;

use chrono::Duration as Days;
use serde_json::json;

use crate::driver::{launch, Browser};
use crate::helpers::{eventually, fixed_now, TestApp, ADMIN_KEY};
use crate::setup::{bland_takes_calls, post};

const DAYS: i64 = 90;

/// One business day: twelve leads (eight called, two flagged, one fictional number,
/// one without a phone), and Bland's outcomes for the calls.
async fn day(app: &TestApp, d: i64) {
    let mut accepted = Vec::new();
    for i in 0..12 {
        let phone = match i {
            8 | 9 => format!("30522000{i:02}"),
            10 => "3055550142".to_string(),
            11 => String::new(),
            _ => format!("305{:07}", 3_000_000 + d * 100 + i),
        };
        let lead = json!({"lead_id": format!("T-{d}-{i}"), "phone_number": phone, "list_id": "77"});
        let answer = post(app, "/webhooks/lead", lead).await;
        if answer["decision"] == "accepted" {
            accepted.push((i, answer["request_id"].as_str().unwrap_or("").to_string()));
        }
    }
    eventually(Duration::from_secs(20), || async {
        let p = app.get_json("/api/admin/calls/pending").await;
        (p["queued"] == 0 && p["in_flight"] == 0).then_some(())
    })
    .await
    .expect("the day's calls are sent");
    for (i, id) in accepted {
        let (answered_by, minutes) = match (i + d) % 4 {
            0 | 1 => ("human", 1.5),
            2 => ("voicemail", 0.4),
            _ => ("no-answer", 0.0),
        };
        let completion = json!({"call_id": format!("call-{id}"), "answered_by": answered_by,
            "call_length": minutes, "metadata": {"request_id": id}});
        post(app, "/webhooks/bland", completion).await;
    }
}

async fn shoot(b: &Browser, app: &TestApp, dir: &std::path::Path, suffix: &str) {
    for page in ["today", "statistics", "flags", "lookup", "settings"] {
        b.goto(&app.url(&format!("/console#/{page}"))).await;
        match page {
            "today" => drop(b.text_contains("#today-leads", "Business date").await),
            "statistics" => drop(b.find("#stats-table").await),
            "flags" => drop(b.find("#flags-table").await),
            "lookup" => {
                b.type_into("#lookup-q", "(305) 220-0008").await;
                b.click("#lookup-form button[type=submit]").await;
                b.text_contains("#lookup-out", "Blocked by flag").await;
                b.click("#check-now").await;
                b.find("#check-result").await;
            }
            _ => drop(b.find("#form-protection").await),
        }
        b.screenshot(dir, &format!("{page}{suffix}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by scripts/console-tour.sh"]
async fn console_tour() {
    let dir = PathBuf::from(std::env::var("CONSOLE_TOUR_DIR").expect("CONSOLE_TOUR_DIR"));
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let app = bland_takes_calls().await;
    for n in ["3052200008", "3052200009"] {
        let flag = json!({"field": "phone", "value": n, "reason": "asked not to be called"});
        post(&app, "/api/admin/blocklist", flag).await;
    }
    let start = fixed_now() - Days::days(DAYS - 1);
    for d in 0..DAYS {
        app.clock.set(start + Days::days(d));
        day(&app, d).await;
    }
    app.clock.set(fixed_now());

    let Some(b) = launch(1280, 800).await else {
        return;
    };
    // First load: a fresh profile (empty cache), the key already in this tab's storage.
    // (The sign-in page is shot afterwards, so its files do not warm the cache.)
    b.goto(&app.url("/console/vendor/uplot/LICENSE")).await;
    b.js(&format!(
        "sessionStorage.setItem('callgate.adminKey', '{ADMIN_KEY}')"
    ))
    .await;
    b.goto(&app.url("/console#/today")).await;
    b.text_contains("#today-leads", "Business date").await;
    let first = b
        .js("const n = performance.getEntriesByType('navigation')[0];
             const r = performance.getEntriesByType('resource').filter(e => e.name.includes('/console/'));
             const all = performance.getEntriesByType('resource');
             return {bytes: n.transferSize + r.reduce((s, e) => s + e.transferSize, 0),
                     with_api_answers: n.transferSize + all.reduce((s, e) => s + e.transferSize, 0),
                     body: n.encodedBodySize + r.reduce((s, e) => s + e.encodedBodySize, 0),
                     decoded: n.decodedBodySize + r.reduce((s, e) => s + e.decodedBodySize, 0),
                     files: r.length + 1,
                     data_ms: Number(document.documentElement.dataset.firstDataMs)};")
        .await;

    // Statistics over the 90 days: the time from the data's arrival to the finished page.
    b.goto(&app.url("/console#/statistics")).await;
    b.find("#stats-table").await;
    let mut renders = Vec::new();
    for _ in 0..5 {
        b.js(&format!(
            "document.getElementById('stats-render').textContent = '';
             document.getElementById('stats-start').value = '{}';
             document.getElementById('stats-form').requestSubmit();",
            start.date_naive()
        ))
        .await;
        let ms = b
            .text_where("#stats-render", |t| t.contains(&format!("{DAYS} days")))
            .await;
        renders.push(ms);
    }
    let report =
        format!("first load: {first}\nstatistics over {DAYS} days (5 renders): {renders:?}\n");
    println!("{report}");
    std::fs::write(dir.join("performance.txt"), &report).expect("write report");

    b.js("sessionStorage.clear()").await;
    b.goto(&app.url("/console#/today")).await;
    b.find("#api-key").await;
    b.screenshot(&dir, "sign-in").await;
    b.type_into("#api-key", ADMIN_KEY).await;
    b.click("#sign-in button[type=submit]").await;
    shoot(&b, &app, &dir, "").await;
    b.client
        .set_window_size(390, 844)
        .await
        .expect("phone size");
    shoot(&b, &app, &dir, "-phone").await;
    b.close().await;
}
