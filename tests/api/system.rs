//! Health, metrics, request ids, the admin-key matrix and the JSON error body.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, ADMIN_KEY};
use callgate::config::Secret;

async fn error_body(res: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(res.status(), status);
    let header_id = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .expect("x-request-id header");
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with("application/json"), "content type {ct}");
    let body: Value = res.json().await.expect("json error body");
    assert_eq!(body["success"], json!(false), "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert_eq!(
        body["request_id"].as_str(),
        Some(header_id.as_str()),
        "{body}"
    );
    body
}

#[tokio::test]
async fn health_reports_ok_with_version_uptime_and_components() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/health"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["uptime_s"].is_u64());
    assert_eq!(body["data_dir_writable"], true);
    assert_eq!(body["mode"], "dry_run");
    assert_eq!(body["components"]["blocklist"]["status"], "ok");
    assert_eq!(body["components"]["blocklist"]["flags"], 0);
}

#[tokio::test]
async fn health_is_503_when_the_data_dir_is_not_writable() {
    let app = spawn_app().await;
    // Replace the data directory with a read-only twin: simulate a full/readonly disk by
    // making the probe path a directory (a file cannot be written over a directory).
    std::fs::create_dir_all(app.data_dir().join(".health-probe")).expect("mkdir");
    let res = app
        .client
        .get(app.url("/health"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["data_dir_writable"], false);
    // On files, that is also "not ready": a webhook taken now would not be durable. On the
    // database, the database is the storage a webhook needs.
    let res = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .expect("request");
    let file_backend = app.settings.database_url.is_none();
    let expected = if file_backend {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    assert_eq!(res.status(), expected);
    let body: Value = res.json().await.expect("json");
    if file_backend {
        assert_eq!(body["storage"], "files");
        assert!(body["error"]
            .as_str()
            .is_some_and(|e| e.contains("not writable")));
    }
}

#[tokio::test]
async fn live_is_204_without_a_body() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers().contains_key("x-request-id"));
    assert!(res.bytes().await.expect("body").is_empty());
}

#[tokio::test]
async fn request_ids_are_ours_and_a_sane_caller_id_is_echoed_as_correlation_id() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/health/live"))
        .header("X-Request-Id", "abc-123")
        .send()
        .await
        .expect("req");
    assert_eq!(res.headers()["x-correlation-id"], "abc-123");
    let ours = res.headers()["x-request-id"].to_str().expect("ascii");
    assert!(ours.starts_with("req_"), "{ours}");
    let res = app
        .client
        .get(app.url("/health/live"))
        .header("X-Request-Id", "bad id!")
        .send()
        .await
        .expect("req");
    let id = res.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(id.starts_with("req_") && id.len() > 10, "{id}");
    assert!(!res.headers().contains_key("x-correlation-id"));
    let other = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .expect("req");
    assert_ne!(other.headers()["x-request-id"].to_str().expect("ascii"), id);
}

#[tokio::test]
async fn admin_auth_matrix() {
    let app = spawn_app_with(|s| {
        s.admin_api_keys = vec![Secret::new("old-key-aaaaaaaaaaaa"), Secret::new(ADMIN_KEY)];
    })
    .await;
    let url = app.url("/api/admin/blocklist");
    // No key.
    let body = error_body(
        app.client.get(&url).send().await.expect("req"),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert!(
        body["error"].as_str().expect("msg").contains("X-API-Key"),
        "{body}"
    );
    // Wrong key.
    let res = app
        .client
        .get(&url)
        .header("X-API-Key", "nope")
        .send()
        .await
        .expect("req");
    error_body(res, StatusCode::UNAUTHORIZED).await;
    // Either configured key works.
    for key in ["old-key-aaaaaaaaaaaa", ADMIN_KEY] {
        let res = app
            .client
            .get(&url)
            .header("X-API-Key", key)
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), StatusCode::OK, "key {key}");
    }
    // Keys in the query string are refused even when correct.
    let res = app
        .client
        .get(format!("{url}?api_key={ADMIN_KEY}"))
        .send()
        .await
        .expect("req");
    error_body(res, StatusCode::UNAUTHORIZED).await;
    // Unknown admin path without a key: 401 before 404; with a key: 404.
    let res = app
        .client
        .get(app.url("/api/admin/nothing/here"))
        .send()
        .await
        .expect("req");
    error_body(res, StatusCode::UNAUTHORIZED).await;
    let res = app
        .admin(Method::GET, "/api/admin/nothing/here")
        .send()
        .await
        .expect("req");
    error_body(res, StatusCode::NOT_FOUND).await;
    // A percent-encoded path is still behind the key.
    let res = app
        .client
        .get(app.url("/api/%61dmin/blocklist"))
        .send()
        .await
        .expect("req");
    assert_ne!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn admin_api_is_503_when_no_key_is_configured() {
    let app = spawn_app_with(|s| s.admin_api_keys.clear()).await;
    let res = app
        .client
        .get(app.url("/api/admin/blocklist"))
        .header("X-API-Key", "")
        .send()
        .await
        .expect("req");
    let body = error_body(res, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        body["error"]
            .as_str()
            .expect("msg")
            .contains("ADMIN_API_KEY"),
        "{body}"
    );
}

#[tokio::test]
async fn every_error_status_has_the_json_body() {
    let app = spawn_app_with(|s| s.max_body_bytes = 1024).await;
    let url = app.url("/api/admin/blocklist");
    // Malformed JSON → 400.
    let res = app
        .admin(Method::POST, "/api/admin/blocklist")
        .header("Content-Type", "application/json")
        .body("{\"field\": ")
        .send()
        .await
        .expect("req");
    error_body(res, StatusCode::BAD_REQUEST).await;
    // Unsupported content type → 415.
    let res = app
        .admin(Method::POST, "/api/admin/blocklist")
        .header("Content-Type", "text/plain")
        .body("field=phone")
        .send()
        .await
        .expect("req");
    error_body(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    // Body over the limit → 413.
    let big = json!({"field": "note", "value": "x".repeat(4096)});
    let res = app
        .admin(Method::POST, "/api/admin/blocklist")
        .json(&big)
        .send()
        .await
        .expect("req");
    error_body(res, StatusCode::PAYLOAD_TOO_LARGE).await;
    // Unknown route → 404; wrong method → 405.
    let res = app
        .client
        .get(app.url("/no/such/route"))
        .send()
        .await
        .expect("req");
    error_body(res, StatusCode::NOT_FOUND).await;
    let res = app
        .admin(Method::PATCH, "/api/admin/blocklist")
        .send()
        .await
        .expect("req");
    error_body(res, StatusCode::METHOD_NOT_ALLOWED).await;
    let res = app
        .client
        .post(app.url("/health"))
        .send()
        .await
        .expect("req");
    error_body(res, StatusCode::METHOD_NOT_ALLOWED).await;
    // The server is still fine afterwards.
    assert_eq!(
        app.admin(Method::GET, "/api/admin/blocklist")
            .send()
            .await
            .expect("req")
            .status(),
        200
    );
    let _ = url;
}

#[tokio::test]
async fn metrics_expose_request_counts_and_latency_by_route_and_status() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.client
            .get(app.url("/health/live"))
            .send()
            .await
            .expect("req");
    }
    app.client
        .get(app.url("/api/admin/blocklist"))
        .send()
        .await
        .expect("req");
    let res = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .expect("ct")
        .contains("openmetrics-text"));
    let text = res.text().await.expect("text");
    assert!(
        text.contains(
            r#"callgate_http_requests_total{method="GET",route="/health/live",status="204"} 3"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/admin/blocklist",status="401""#),
        "{text}"
    );
    assert!(
        text.contains("callgate_http_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(text.contains("callgate_blocklist_flags 0"), "{text}");
    assert!(text.trim_end().ends_with("# EOF"));
}

/// systemd reads a `#` after a value as part of the value (`EnvironmentFile=/etc/x # note`
/// names a file that does not exist, so the secrets are never loaded).
#[test]
fn the_readme_systemd_unit_has_no_comment_after_a_value() {
    let readme = include_str!("../../README.md");
    let unit = readme
        .split("```ini")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README has a systemd unit");
    assert!(
        unit.contains("EnvironmentFile=/etc/callgate.env\n"),
        "{unit}"
    );
    for line in unit.lines().map(str::trim) {
        if line.starts_with('#') || !line.contains('=') {
            continue;
        }
        assert!(
            !line.contains(" #") && !line.contains("\t#"),
            "inline comment: {line}"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_is_served_without_a_key() {
    let app = crate::helpers::spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let doc: serde_json::Value = res.json().await.expect("json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    for path in [
        "/webhooks/lead",
        "/api/admin/blocklist",
        "/api/admin/lists/{name}",
        "/health",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is described");
    }
}

/// `data/` holds only its README in git: live state there can never be committed or
/// replaced by a `git pull`.
#[test]
fn data_is_ignored_by_git_except_its_readme() {
    let root = env!("CARGO_MANIFEST_DIR");
    if !std::path::Path::new(root).join(".git").exists() {
        return; // not a checkout (a packaged source tree)
    }
    let ignored = |p: &str| {
        std::process::Command::new("git")
            .args(["-C", root, "check-ignore", "-q", "--no-index", p])
            .status()
            .expect("git")
            .success()
    };
    for live in [
        "data/blocklist-config.json",
        "data/outbox/outbox.jsonl",
        "data/calls/calls_2026-11-23.jsonl",
    ] {
        assert!(ignored(live), "{live} would be tracked");
    }
    assert!(!ignored("data/README.md"));
    assert!(std::path::Path::new(root).join("data/README.md").exists());
}

/// Every `curl` in the README: the lines of ```sh blocks that start one (with their `\`
/// continuations), and inline `curl …` spans.
fn readme_curls() -> Vec<String> {
    let readme = include_str!("../../README.md");
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut current: Option<String> = None;
    for line in readme.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            in_sh = t == "```sh";
            continue;
        }
        if in_sh {
            if let Some(cmd) = current.as_mut() {
                cmd.push(' ');
                cmd.push_str(t.trim_end_matches('\\'));
            } else if t.starts_with("curl ") {
                current = Some(t.trim_end_matches('\\').to_string());
            }
            if !t.ends_with('\\') {
                out.extend(current.take());
            }
        } else {
            for (i, span) in t.split('`').enumerate() {
                if i % 2 == 1 && span.starts_with("curl ") {
                    out.push(span.to_string());
                }
            }
        }
    }
    out
}

#[test]
fn every_curl_in_the_readme_runs_as_pasted_against_the_real_server() {
    let curls = readme_curls();
    assert!(curls.len() >= 6, "the README's curls were found: {curls:?}");
    let dir = tempfile::tempdir().expect("tempdir");
    let server = crate::helpers::spawn_process(dir.path(), &[]);
    let mut answers = Vec::new();
    for cmd in &curls {
        let cmd = cmd
            .replace("http://localhost:3000", &server.address)
            .replace("http://127.0.0.1:3000", &server.address);
        // The status code on its own last line; the body before it.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{cmd} -sS -w '\\n%{{http_code}}'"))
            .env("ADMIN_API_KEY", crate::helpers::ADMIN_KEY)
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let code: u16 = text
            .lines()
            .last()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        assert!(
            out.status.success() && (200..300).contains(&code),
            "{cmd}\n{code}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        answers.push((cmd, text));
    }
    // The two checks answer what the README says they do.
    let check = |number: &str| {
        answers
            .iter()
            .find(|(c, _)| c.contains("/api/admin/check") && c.contains(number))
            .map(|(_, body)| body.clone())
            .unwrap_or_else(|| panic!("a check of {number}"))
    };
    assert!(
        check("555-2671").contains(r#""decision":"accepted""#),
        "{}",
        check("555-2671")
    );
    let blocked = check("555-0142");
    assert!(
        blocked.contains(r#""decision":"blocked""#) && blocked.contains(r#""stage":"protection""#),
        "{blocked}"
    );
}
