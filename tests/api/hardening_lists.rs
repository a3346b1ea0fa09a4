//! The second black-box trial (issue 22), list uploads: an overlong line (cheap behind
//! compression) is never held whole, and a download date inferred from a zip's entries or
//! a file name that cannot be right is refused instead of closing the gate.

use std::io::Write;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp};
use crate::intake::post_lead;
use callgate::config::lists::{ListKind, ListSettings};

fn national() -> Vec<ListSettings> {
    vec![ListSettings {
        name: "ftc".into(),
        kind: ListKind::NationalDnc,
        max_age_days: Some(31),
        states: Vec::new(),
        exemption: None,
    }]
}

async fn put(app: &TestApp, query: &str, body: Vec<u8>) -> (StatusCode, Value) {
    crate::lists_formats::put(app, &format!("/api/admin/lists/ftc{query}"), body).await
}

/// 200 good numbers, then one line of `long` bytes, then the end.
fn with_long_line(long: usize) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..200 {
        writeln!(gz, "305555{i:04}").expect("gzip");
    }
    let chunk = vec![b'9'; 1 << 20];
    let mut left = long;
    while left > 0 {
        let n = left.min(chunk.len());
        gz.write_all(&chunk[..n]).expect("gzip");
        left -= n;
    }
    gz.write_all(b"\n").expect("gzip");
    gz.finish().expect("gzip")
}

#[tokio::test]
async fn a_gzip_that_expands_to_one_huge_line_is_read_in_bounded_memory_and_reported() {
    let app = spawn_app_with(|s| s.lists = national()).await;
    // 64 MiB of one line, about 64 KiB on the wire.
    let body = with_long_line(64 << 20);
    assert!(body.len() < 1 << 20, "{}", body.len());
    let (status, answer) = put(&app, "?downloaded_at=2026-11-20", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (answer["count"].clone(), answer["invalid"].clone()),
        (json!(200), json!(1)),
        "{answer}"
    );
    let bad = &answer["invalid_lines"][0];
    assert_eq!(bad["line"], 201, "{answer}");
    assert!(
        bad["text"]
            .as_str()
            .is_some_and(|t| t.contains("longer than 16 KiB")),
        "{bad}"
    );
}

/// A zip of one list file whose entry carries `date` (the zip format's default is
/// 1980-01-01).
fn zip_stamped(date: (u16, u8, u8)) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let when = zip::DateTime::from_date_and_time(date.0, date.1, date.2, 0, 0, 0).expect("time");
    let opts = zip::write::SimpleFileOptions::default().last_modified_time(when);
    zip.start_file("305.txt", opts).expect("entry");
    zip.write_all(b"3055551234\n3055551235\n").expect("write");
    zip.finish().expect("zip").into_inner()
}

#[tokio::test]
async fn an_inferred_download_date_that_cannot_be_right_is_refused_and_the_gate_stays_as_it_was() {
    let app = spawn_app_with(|s| s.lists = national()).await;
    // The zip format's default date: before the registry existed.
    let (status, answer) = put(&app, "", zip_stamped((1980, 1, 1))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let error = answer["error"].as_str().expect("error");
    assert!(
        error.contains("1980-01-01")
            && error.contains("zip")
            && error.contains("before the list's source existed")
            && error.contains("downloaded_at"),
        "{error}"
    );
    let lists = app.get_json("/api/admin/lists").await;
    assert_eq!(
        lists["lists"][0]["snapshot"],
        Value::Null,
        "nothing loaded: {lists}"
    );
    // Stamped two months ago: stale at once against max_age_days 31.
    let (status, answer) = put(&app, "", zip_stamped((2026, 9, 20))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("max_age_days")),
        "{answer}"
    );
    // A date that can be right is taken.
    let (status, answer) = put(&app, "", zip_stamped((2026, 11, 21))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["downloaded_at"], "2026-11-21", "{answer}");
    // Older than the version in force, by its file name: refused.
    let res = app
        .admin(
            Method::PUT,
            "/api/admin/lists/ftc?source=ftc-2026-11-10.txt",
        )
        .body("3055551234\n")
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let answer: Value = res.json().await.expect("json");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("older than the version in force")),
        "{answer}"
    );
    // The operator's own date is taken as given.
    let (status, answer) = put(&app, "?downloaded_at=2026-11-10", zip_stamped((1980, 1, 1))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["downloaded_at"], "2026-11-10");
    let (_, lead) = post_lead(&app, json!({"phone_number": "3055559999", "lead_id": "Z"})).await;
    assert_ne!(lead["stage"], "blocklist", "the gate is open: {lead}");
}

#[tokio::test]
async fn health_names_each_list_with_its_status_age_and_days_left() {
    let app = spawn_app_with(|s| {
        s.lists = national();
        s.lists.push(ListSettings {
            name: "ours".into(),
            kind: ListKind::InternalDnc,
            max_age_days: None,
            states: Vec::new(),
            exemption: None,
        });
    })
    .await;
    let lists = |h: &Value| h["components"]["lists"].clone();
    let h = lists(&app.health().await);
    assert_eq!(h["status"], "unhealthy", "{h}");
    assert_eq!(h["lists"][0]["name"], "ftc");
    assert_eq!(h["lists"][0]["status"], "never_loaded", "{h}");
    assert!(
        h["error"]
            .as_str()
            .is_some_and(|e| e.contains("ftc (never loaded)")),
        "{h}"
    );
    // Loaded 28 days ago, 31 allowed: three days left, degraded.
    let (status, _) = put(&app, "?downloaded_at=2026-10-26", b"3055551234\n".to_vec()).await;
    assert_eq!(status, StatusCode::OK);
    let h = lists(&app.health().await);
    assert_eq!(h["status"], "degraded", "{h}");
    let ftc = &h["lists"][0];
    assert_eq!(
        (
            ftc["status"].clone(),
            ftc["age_days"].clone(),
            ftc["days_left"].clone(),
            ftc["version"].clone()
        ),
        (json!("closes_soon"), json!(28), json!(3), json!(1)),
        "{h}"
    );
    assert_eq!(h["lists"][1]["status"], "ok", "an ungated list: {h}");
    assert_eq!(h["lists"][1]["days_left"], Value::Null);
    app.clock.advance(chrono::TimeDelta::days(4));
    let h = lists(&app.health().await);
    assert_eq!(
        (
            h["lists"][0]["status"].clone(),
            h["lists"][0]["days_left"].clone()
        ),
        (json!("stale"), json!(-1)),
        "{h}"
    );
    assert!(
        h["error"]
            .as_str()
            .is_some_and(|e| e.contains("ftc (stale)")),
        "{h}"
    );
}
