//! Blocklist listing filters, bulk import and export.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::blocklist::{add, lookup};
use crate::helpers::spawn_app;

#[tokio::test]
async fn list_filters_search_order_and_pages() {
    let app = spawn_app().await;
    for (i, (field, value, reason, by)) in [
        ("phone", "3055550001", "asked by email", "alice"),
        ("phone", "3055550002", "lawyer", "bob"),
        ("lead_id", "9", "duplicate", "alice"),
        ("state", "FL", "no florida", "carol"),
    ]
    .into_iter()
    .enumerate()
    {
        app.clock.advance(chrono::Duration::seconds(i as i64 + 1));
        add(
            &app,
            json!({"field": field, "value": value, "reason": reason, "added_by": by}),
        )
        .await;
    }
    let q = |s: &str| {
        let path = format!("/api/admin/blocklist?{s}");
        let app = &app;
        async move { app.get_json(&path).await }
    };
    assert_eq!(q("field=phone").await["flags_count"], 2);
    assert_eq!(
        q("field=phone_number&value=(305)%20555-0002").await["flags"][0]["reason"],
        "lawyer"
    );
    assert_eq!(q("value=%2B13055550001").await["flags_count"], 1);
    assert_eq!(q("search=ALICE").await["flags_count"], 2);
    assert_eq!(q("search=florida").await["flags"][0]["value"], "FL");
    let page = q("limit=2&offset=1").await;
    assert_eq!(page["flags_count"], 4);
    let values: Vec<&str> = page["flags"]
        .as_array()
        .expect("a")
        .iter()
        .map(|f| f["value"].as_str().expect("v"))
        .collect();
    assert_eq!(values, ["+13055550002", "9"]);
    let desc = q("order=added_at&direction=desc&limit=1").await;
    assert_eq!(desc["flags"][0]["value"], "FL");
    let by_value = q("order=value").await;
    assert_eq!(by_value["flags"][0]["value"], "+13055550001");
    let by_field = q("order=field&direction=desc").await;
    assert_eq!(by_field["flags"][0]["field"], "state");
}

#[tokio::test]
async fn bulk_csv_and_json_import_with_invalid_lines_then_export() {
    let app = spawn_app().await;
    add(&app, json!({"field": "phone", "value": "3055550001"})).await;
    let csv = "field,value,reason\nphone,305-555-0001,dup\nphone,305-555-0002,new\nphone,123,bad number\nemail,A@B.com,\n";
    let res = app
        .admin(Method::POST, "/api/admin/blocklist/bulk")
        .header("Content-Type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["added"], 2);
    assert_eq!(body["existing"], 1);
    assert_eq!(
        body["invalid"],
        json!([{"line": 4, "value": "123", "error": body["invalid"][0]["error"]}])
    );
    assert!(body["invalid"][0]["error"]
        .as_str()
        .expect("e")
        .contains("possible"));

    let res = app
        .admin(Method::POST, "/api/admin/blocklist/bulk")
        .body("3055550003\n(305) 555-0004\n")
        .header("Content-Type", "text/plain")
        .send()
        .await
        .expect("req");
    assert_eq!(res.json::<Value>().await.expect("json")["added"], 2);
    let res = app
        .post_json(
            "/api/admin/blocklist/bulk",
            json!([{"field": "lead_id", "value": 42}, {"field": "lead_id"}]),
        )
        .await;
    let body: Value = res.json().await.expect("json");
    assert_eq!(
        (body["added"].as_u64(), body["invalid"][0]["line"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        lookup(&app, "lead_id", "42").await.0,
        StatusCode::NO_CONTENT
    );

    let res = app
        .admin(Method::GET, "/api/admin/blocklist/export?format=csv")
        .send()
        .await
        .expect("req");
    assert!(res.headers()["content-type"]
        .to_str()
        .expect("ct")
        .starts_with("text/csv"));
    let text = res.text().await.expect("csv");
    assert_eq!(text.lines().count(), 1 + 6, "{text}");
    assert!(text.starts_with("id,field,value,reason"));
    let doc = app
        .get_json("/api/admin/blocklist/export?format=json")
        .await;
    assert_eq!(doc["flags"].as_array().expect("flags").len(), 6);
    // The JSON export re-imports as all-existing.
    let res = app.post_json("/api/admin/blocklist/bulk", doc).await;
    let body: Value = res.json().await.expect("json");
    assert_eq!(
        (body["added"].as_u64(), body["existing"].as_u64()),
        (Some(0), Some(6))
    );
    let res = app
        .admin(Method::GET, "/api/admin/blocklist/export?format=xml")
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}
