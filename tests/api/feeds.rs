//! Feeds from a mock feed server, last-good fallback, cache at startup, content screening
//! stopping leads before Bland.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{eventually, spawn_app_with, TestApp};
use crate::intake::{bland_calls, live, post_lead, Queued};
use callgate::config::{FeedFormat, FeedKind, FeedSettings};

const HTML: &str = "<html><body><h1>Scam numbers</h1><p>305-555-2101, (305) 555-2102;</p><p>bogus</p></body></html>";

pub fn feed(name: &str, kind: FeedKind, url: String) -> FeedSettings {
    FeedSettings {
        name: name.into(),
        kind,
        url,
        refresh: Duration::from_secs(6 * 3600),
        format: FeedFormat::Auto,
        headers: vec![(
            "Authorization".into(),
            callgate::config::Secret::new("Bearer feed-token"),
        )],
        max_bytes: 50 * 1024 * 1024,
    }
}

pub async fn feed_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/numbers"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html")
                .set_body_string(HTML),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/words"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string("gift card\nSocial Security Administration"),
        )
        .mount(&server)
        .await;
    server
}

async fn feeds_loaded(app: &TestApp, n: usize) -> Value {
    eventually(Duration::from_secs(5), || async {
        let f = app.get_json("/api/admin/blocklist/feeds").await;
        let ok = f["feeds"]
            .as_array()?
            .iter()
            .filter(|x| x["entries"].as_u64() > Some(0))
            .count()
            >= n;
        ok.then_some(f)
    })
    .await
    .expect("feeds fetched at startup")
}

#[tokio::test]
async fn feed_numbers_and_blocked_phrases_stop_leads_before_bland() {
    let feeds = feed_server().await;
    let (numbers, words) = (
        format!("{}/numbers", feeds.uri()),
        format!("{}/words", feeds.uri()),
    );
    let app = spawn_app_with(move |s| {
        live(s);
        s.feeds = vec![
            feed("scam-numbers", FeedKind::Numbers, numbers),
            feed("scam-words", FeedKind::Words, words),
        ];
        s.content.blocked_words = vec!["prize".into()];
        s.content.lead_fields = vec!["notes".into()];
        s.bland.task = Some("Tell {{first_name}} about {{offer}}".into());
    })
    .await;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .respond_with(Queued)
        .mount(&app.bland)
        .await;
    let status = feeds_loaded(&app, 2).await;
    let numbers = &status["feeds"][0];
    assert_eq!(numbers["entries"], 2);
    assert_eq!(numbers["skipped"], 2);
    assert_eq!(numbers["source"], "network");
    let sent = feeds.received_requests().await.unwrap_or_default();
    assert!(sent.iter().all(|r| r
        .headers
        .get("authorization")
        .is_some_and(|v| v == "Bearer feed-token")));

    // A number on the feed.
    let (code, body) = post_lead(&app, json!({"phone_number": "3055552102", "lead_id": "1"})).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body["decision"], "blocked");
    assert_eq!(
        body["reason"],
        "Blocked by feed scam-numbers: phone=+13055552102"
    );
    // A blocked phrase in the task once the lead's fields are filled in.
    let (_, body) = post_lead(&app, json!({"phone_number": "3055550200", "lead_id": "2", "first_name": "Ada", "offer": "your PRIZE!"})).await;
    assert_eq!(body["decision"], "blocked");
    assert_eq!(body["reason"], "Blocked content: prize");
    // A feed phrase in a screened lead field, across punctuation.
    let (_, body) = post_lead(&app, json!({"phone_number": "3055550201", "lead_id": "3", "notes": "says he is from the social-security administration"})).await;
    assert_eq!(
        body["reason"],
        "Blocked content: social security administration"
    );
    // Word boundaries: "enterprise" is not "prize".
    let (code, body) = post_lead(
        &app,
        json!({"phone_number": "3055550202", "lead_id": "4", "offer": "enterprise plans"}),
    )
    .await;
    assert_eq!(
        (code, body["decision"].as_str()),
        (StatusCode::ACCEPTED, Some("accepted"))
    );
    let calls = eventually(Duration::from_secs(5), || async {
        let c = bland_calls(&app).await;
        (!c.is_empty()).then_some(c)
    })
    .await
    .expect("the clean lead is sent");
    assert_eq!(calls.len(), 1, "blocked leads never reach Bland");
    assert_eq!(calls[0]["metadata"]["lead_id"], "4");

    let attempts = app.get_json("/api/admin/blocklist/attempts/today").await;
    let sources: Vec<&str> = attempts["attempts"]
        .as_array()
        .expect("a")
        .iter()
        .filter_map(|a| a["source"].as_str())
        .collect();
    assert_eq!(sources, ["feed", "content", "content"]);

    // The check endpoints, with no side effects.
    let res = app
        .post_json(
            "/api/admin/blocklist/check",
            json!({"number": "(305) 555-2101", "text": "a gift card for you"}),
        )
        .await;
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["blocked"], true);
    assert_eq!(
        body["matches"],
        json!([
            {"source": "feed", "name_or_flag_id": "scam-numbers", "term": "+13055552101"},
            {"source": "content", "name_or_flag_id": null, "term": "gift card"}
        ])
    );
    let res = app
        .post_json(
            "/api/admin/blocklist/words/check",
            json!({"text": "Greetings from Essex"}),
        )
        .await;
    assert_eq!(
        res.json::<Value>().await.expect("json"),
        json!({"blocked": false, "terms": []})
    );
    let res = app.post_json("/api/admin/blocklist/check", json!({})).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let metrics = app.get_text("/metrics").await;
    assert!(
        metrics.contains(r#"callgate_feed_entries{feed="scam-numbers"} 2"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn failures_keep_the_last_good_list_and_the_cache_serves_a_restart() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/numbers"))
        .respond_with(ResponseTemplate::new(200).set_body_string(HTML))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/numbers"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/numbers"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string("<html><p>nothing today</p></html>"),
        )
        .up_to_n_times(1)
        .with_priority(3)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/numbers"))
        .respond_with(ResponseTemplate::new(200).set_body_string("3055552101\n".repeat(200)))
        .with_priority(4)
        .mount(&server)
        .await;
    let url = format!("{}/numbers", server.uri());
    let app = spawn_app_with(move |s| {
        let mut f = feed("scam-numbers", FeedKind::Numbers, url);
        f.max_bytes = 1024;
        s.feeds = vec![f];
    })
    .await;
    feeds_loaded(&app, 1).await;
    for why in ["503", "no entries", "byte limit"] {
        let res = app
            .post_json(
                "/api/admin/blocklist/feeds/refresh?name=scam-numbers",
                json!({}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.expect("json");
        let f = &body["feeds"][0];
        assert!(
            f["last_error"].as_str().expect("error").contains(why),
            "{f}"
        );
        assert_eq!(f["entries"], 2, "the last good list stays in force ({why})");
    }
    let res = app
        .post_json("/api/admin/blocklist/feeds/refresh?name=nope", json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // The last good copy is a file here, a row in database mode.
    assert!(
        crate::helpers::on_postgres() || app.data_dir().join("feeds/scam-numbers.json").exists()
    );

    // Restart with the feed unreachable: the cached copy still blocks.
    let (mut settings, dir, _bland, clock) = app.stop().await;
    drop(server);
    settings.feeds[0].url = "http://127.0.0.1:9/numbers".into();
    let app = crate::helpers::start_with(settings, dir, clock.clone()).await;
    let status = app.get_json("/api/admin/blocklist/feeds").await;
    assert_eq!(status["feeds"][0]["entries"], 2);
    assert_eq!(status["feeds"][0]["source"], "cache");
    let (_, body) = post_lead(&app, json!({"phone_number": "3055552101", "lead_id": "1"})).await;
    assert_eq!(body["decision"], "blocked");
    // No success for twice the refresh period makes /health degraded.
    clock.advance(chrono::Duration::hours(13));
    let health = app.wait_for_health("degraded").await;
    let feeds = &health["components"]["feeds"];
    assert_eq!(feeds["feeds"][0]["stale"], true);
    // It names the feed, its status, where its list came from and why it is stale.
    assert_eq!(feeds["feeds"][0]["status"], "stale", "{feeds}");
    assert_eq!(feeds["feeds"][0]["source"], "cache", "{feeds}");
    let name = feeds["feeds"][0]["name"].as_str().expect("name");
    assert!(
        feeds["error"].as_str().is_some_and(|e| e.contains(name)),
        "{feeds}"
    );
}
