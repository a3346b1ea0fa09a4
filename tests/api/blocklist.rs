//! The blocklist API: the seed's endpoints and shapes, lookup, search, update, expiry, bulk.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

pub async fn add(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let res = app.post_json("/api/admin/blocklist", body).await;
    let status = res.status();
    (status, res.json().await.expect("json"))
}

pub async fn lookup(app: &TestApp, field: &str, value: &str) -> (StatusCode, Option<String>) {
    let res = app
        .admin(Method::GET, "/api/admin/blocklist/lookup")
        .query(&[("field", field), ("value", value)])
        .send()
        .await
        .expect("req");
    let id = res
        .headers()
        .get("x-blocklist-flag-id")
        .map(|v| v.to_str().expect("ascii").to_string());
    (res.status(), id)
}

#[tokio::test]
async fn seed_examples_round_trip() {
    let app = spawn_app().await;
    // Example 1–3 of the seed.
    let (status, body) = add(
        &app,
        json!({"field": "phone", "value": "3055551234",
        "reason": "Customer requested no contact - do not call"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "Blocklist flag added successfully");
    let flag = &body["flag"];
    let phone_id = flag["id"].as_str().expect("id").to_string();
    assert!(phone_id.starts_with("flag_"), "{phone_id}");
    assert_eq!(flag["field"], "phone");
    assert_eq!(flag["value"], "+13055551234");
    assert_eq!(
        flag["reason"],
        "Customer requested no contact - do not call"
    );
    assert!(flag["added_at"].as_str().expect("added_at").ends_with('Z'));
    let (status, _) = add(
        &app,
        json!({"field": "lead_id", "value": "12345", "reason": "Duplicate lead - permanent block"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = add(&app, json!({"field": "email", "value": "test@example.com", "reason": "Test account - do not call"})).await;
    assert_eq!(status, StatusCode::CREATED);

    // Get all flags.
    let all = app.get_json("/api/admin/blocklist").await;
    assert_eq!(all["enabled"], true);
    assert_eq!(all["flags_count"], 3);
    assert_eq!(all["flags"].as_array().expect("flags").len(), 3);
    assert_eq!(all["flags"][0]["id"], phone_id.as_str());

    // Disable and enable.
    let res = app
        .admin(Method::PUT, "/api/admin/blocklist/enabled")
        .json(&json!({"enabled": false}))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(
        body,
        json!({"success": true, "message": "Blocklist disabled successfully", "enabled": false})
    );
    assert_eq!(app.get_json("/api/admin/blocklist").await["enabled"], false);
    let res = app
        .admin(Method::PUT, "/api/admin/blocklist/enabled")
        .json(&json!({"enabled": "yes"}))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .admin(Method::PUT, "/api/admin/blocklist/enabled")
        .json(&json!({"enabled": true}))
        .send()
        .await
        .expect("req");
    assert_eq!(
        res.json::<Value>().await.expect("json")["message"],
        "Blocklist enabled successfully"
    );

    // Remove (example 6), then it is gone.
    let res = app
        .admin(Method::DELETE, &format!("/api/admin/blocklist/{phone_id}"))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "Blocklist flag removed successfully");
    let res = app
        .admin(Method::DELETE, &format!("/api/admin/blocklist/{phone_id}"))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get_json("/api/admin/blocklist").await["flags_count"], 2);
}

#[tokio::test]
async fn every_phone_spelling_is_one_flag() {
    let app = spawn_app().await;
    let (status, body) = add(
        &app,
        json!({"field": "phone_number", "value": "+13055551234"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = body["flag"]["id"].as_str().expect("id").to_string();
    assert_eq!(body["flag"]["field"], "phone");
    for spelling in [
        "305-555-1234",
        "(305) 555-1234",
        "305.555.1234",
        "3055551234",
        "13055551234",
        "+1 305 555 1234",
        "+13055551234",
    ] {
        assert_eq!(
            lookup(&app, "phone", spelling).await,
            (StatusCode::NO_CONTENT, Some(id.clone())),
            "{spelling}"
        );
        assert_eq!(
            lookup(&app, "phone_number", spelling).await.0,
            StatusCode::NO_CONTENT,
            "{spelling}"
        );
        // Adding it again in any spelling is idempotent.
        let (status, again) = add(&app, json!({"field": "phone", "value": spelling})).await;
        assert_eq!(status, StatusCode::OK, "{spelling}");
        assert_eq!(again["alreadyExists"], true);
        assert_eq!(again["flag"]["id"], id.as_str());
    }
    assert_eq!(
        lookup(&app, "phone", "305-555-9999").await,
        (StatusCode::NOT_FOUND, None)
    );
    // HEAD works like GET, without a body.
    let res = app
        .admin(
            Method::HEAD,
            "/api/admin/blocklist/lookup?field=phone&value=3055551234",
        )
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // International numbers too.
    let (status, body) = add(&app, json!({"field": "phone", "value": "+44 20 7946 0958"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["flag"]["value"], "+442079460958");
}

#[tokio::test]
async fn bad_input_is_400_naming_the_problem() {
    let app = spawn_app().await;
    for (body, needle) in [
        (json!({"value": "1"}), "field"),
        (json!({"field": "phone"}), "value"),
        (json!({"field": "phone", "value": "  "}), "value"),
        (json!({"field": "phone", "value": "12345"}), "phone"),
        (
            json!({"field": "x", "value": "1", "expires_at": "soon"}),
            "expires_at",
        ),
        (json!(["not", "an", "object"]), "object"),
    ] {
        let (status, err) = add(&app, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(err["success"], false);
        assert!(
            err["error"].as_str().expect("error").contains(needle),
            "{body} → {err}"
        );
    }
    assert_eq!(lookup(&app, "phone", "12").await.0, StatusCode::BAD_REQUEST);
    let res = app
        .admin(Method::GET, "/api/admin/blocklist?limit=many")
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .admin(Method::GET, "/api/admin/blocklist?order=colour")
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn email_is_case_insensitive_and_other_fields_exact() {
    let app = spawn_app().await;
    add(&app, json!({"field": "email", "value": "Test@Example.com"})).await;
    add(&app, json!({"field": "last_name", "value": "Smith"})).await;
    assert_eq!(
        lookup(&app, "email", "  TEST@example.COM ").await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        lookup(&app, "last_name", " Smith ").await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        lookup(&app, "last_name", "smith").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn expired_flags_stop_matching_at_their_time() {
    let app = spawn_app().await;
    let (status, body) = add(
        &app,
        json!({"field": "lead_id", "value": "777", "expires_at": "2026-11-23T16:00:00Z"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["flag"]["expires_at"], "2026-11-23T16:00:00.000Z");
    assert_eq!(
        lookup(&app, "lead_id", "777").await.0,
        StatusCode::NO_CONTENT
    );
    app.clock
        .set("2026-11-23T16:00:00Z".parse().expect("instant"));
    assert_eq!(
        lookup(&app, "lead_id", "777").await.0,
        StatusCode::NOT_FOUND
    );
    let inactive = app.get_json("/api/admin/blocklist?active=false").await;
    assert_eq!(inactive["flags_count"], 1);
    assert_eq!(
        app.get_json("/api/admin/blocklist?active=true").await["flags_count"],
        0
    );
    // Adding the same value again makes a new live flag.
    let (status, _) = add(&app, json!({"field": "lead_id", "value": "777"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        lookup(&app, "lead_id", "777").await.0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn get_and_update_one_flag() {
    let app = spawn_app().await;
    let (_, a) = add(
        &app,
        json!({"field": "phone", "value": "3055551234", "reason": "first"}),
    )
    .await;
    let (_, b) = add(&app, json!({"field": "phone", "value": "3055550000"})).await;
    let a_id = a["flag"]["id"].as_str().expect("id").to_string();
    let b_id = b["flag"]["id"].as_str().expect("id").to_string();
    let one = app.get_json(&format!("/api/admin/blocklist/{a_id}")).await;
    assert_eq!(one["flag"]["reason"], "first");
    let res = app
        .admin(Method::GET, "/api/admin/blocklist/flag_unknown")
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let res = app
        .admin(Method::PUT, &format!("/api/admin/blocklist/{a_id}"))
        .json(&json!({"reason": "changed", "value": "(305) 555-7777", "expires_at": "2027-01-01T00:00:00Z"}))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["flag"]["value"], "+13055557777");
    assert_eq!(body["flag"]["reason"], "changed");
    assert_eq!(body["flag"]["updated_at"], "2026-11-23T15:00:00.000Z");
    assert_eq!(
        lookup(&app, "phone", "3055551234").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        lookup(&app, "phone", "3055557777").await.1,
        Some(a_id.clone())
    );
    // Clash with the other flag's value → 409; unknown field → 400; unknown id → 404.
    let res = app
        .admin(Method::PUT, &format!("/api/admin/blocklist/{a_id}"))
        .json(&json!({"value": "3055550000"}))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.expect("text").contains(&b_id));
    let res = app
        .admin(Method::PUT, &format!("/api/admin/blocklist/{a_id}"))
        .json(&json!({"field": "email"}))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .admin(Method::PUT, "/api/admin/blocklist/nope")
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn restart_keeps_flags_and_the_enabled_setting() {
    let app = spawn_app().await;
    let (_, body) = add(
        &app,
        json!({"field": "phone", "value": "3055551234", "reason": "keep me"}),
    )
    .await;
    let id = body["flag"]["id"].as_str().expect("id").to_string();
    app.admin(Method::PUT, "/api/admin/blocklist/enabled")
        .json(&json!({"enabled": false}))
        .send()
        .await
        .expect("req");
    let app = app.restart().await;
    let all = app.get_json("/api/admin/blocklist").await;
    assert_eq!(all["enabled"], false);
    assert_eq!(all["flags"][0]["id"], id.as_str());
    assert_eq!(all["flags"][0]["reason"], "keep me");
}
