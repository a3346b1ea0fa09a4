//! The console's files as served: embedded, typed, cached by ETag, locked down by CSP.

use reqwest::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION};
use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_console_is_served_from_the_binary_and_the_root_redirects_to_it() {
    let app = spawn_app().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let root = no_redirects.get(app.url("/")).send().await.expect("req");
    assert_eq!(root.status(), StatusCode::FOUND);
    assert_eq!(root.headers()[LOCATION], "/console");

    let page = app
        .client
        .get(app.url("/console"))
        .send()
        .await
        .expect("req");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    let html = page.text().await.expect("body");
    assert!(html.contains("/console/js/app.js"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no CDN"
    );

    for (path, kind) in [
        ("/console/js/app.js", "text/javascript; charset=utf-8"),
        ("/console/app.css", "text/css; charset=utf-8"),
        (
            "/console/vendor/uplot/uPlot.iife.min.js",
            "text/javascript; charset=utf-8",
        ),
        ("/console/vendor/uplot/LICENSE", "text/plain; charset=utf-8"),
    ] {
        let res = app.client.get(app.url(path)).send().await.expect("req");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()[CONTENT_TYPE], kind, "{path}");
    }
    let licence = app.get_text("/console/vendor/uplot/LICENSE").await;
    assert!(licence.contains("MIT"));
}

#[tokio::test]
async fn console_files_answer_304_to_their_etag_and_a_json_404_for_unknown_ones() {
    let app = spawn_app().await;
    let first = app
        .client
        .get(app.url("/console/js/api.js"))
        .send()
        .await
        .expect("req");
    let etag = first.headers()[ETAG].clone();
    let again = app
        .client
        .get(app.url("/console/js/api.js"))
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("req");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.bytes().await.expect("body").is_empty());

    let missing = app
        .client
        .get(app.url("/console/js/../../Cargo.toml"))
        .send()
        .await
        .expect("req");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = missing.json().await.expect("json");
    assert_eq!(body["success"], false);
}

#[tokio::test]
async fn the_console_is_compressed_when_the_browser_asks() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/console/vendor/uplot/uPlot.iife.min.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("req");
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let packed = res.bytes().await.expect("body").len();
    assert!(
        packed < 30_000,
        "uPlot gzipped is about 22 KB, got {packed}"
    );
}
