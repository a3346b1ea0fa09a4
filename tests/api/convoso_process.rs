//! Convoso write-backs and the real binary: `kill -9` with writes pending (Convoso
//! unreachable), each sent exactly once after the restart, and no log line with the token.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::convoso::{ok, received, wait_received, TOKEN};
use crate::helpers::eventually;

/// The real binary, `kill -9`ed with write-backs pending (Convoso unreachable), sends each
/// exactly once after the restart, and its logs never hold the token.
#[tokio::test]
async fn write_backs_pending_at_a_kill_9_are_each_sent_once_after_the_restart() {
    use crate::helpers::{client, spawn_process, ADMIN_KEY};
    use crate::intake::BLAND_KEY;
    let bland = MockServer::start().await;
    crate::intake::bland_takes(&bland).await;
    let convoso = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/leads/update"))
        .respond_with(ok())
        .mount(&convoso)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let bland_uri = bland.uri();
    let env = |convoso_url: &str| -> Vec<(String, String)> {
        [
            ("BLAND_API_KEY", BLAND_KEY),
            ("BLAND_API_URL", bland_uri.as_str()),
            ("CONVOSO_AUTH_TOKEN", TOKEN),
            ("CONVOSO_API_URL", convoso_url),
            ("CONVOSO_RETRY_BASE_MS", "300"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let start = |env: Vec<(String, String)>| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        spawn_process(dir.path(), &env)
    };
    let http = client();
    // Convoso unreachable: nothing answers on port 9.
    let mut proc = start(env("http://127.0.0.1:9"));
    let mut calls = Vec::new();
    for n in 0..5 {
        let res = http
            .post(format!("{}/webhooks/lead", proc.address))
            .json(&json!({"phone_number": format!("30555{:05}", 23000 + n), "lead_id": format!("K-{n}")}))
            .send()
            .await
            .expect("lead");
        let id = res.json::<Value>().await.expect("json")["request_id"]
            .as_str()
            .expect("id")
            .to_string();
        calls.push(format!("call-{id}"));
        let admin = |p: String| {
            http.get(format!("{}{p}", proc.address))
                .header("X-API-Key", ADMIN_KEY)
        };
        eventually(Duration::from_secs(5), || async {
            let h: Value = admin(format!("/api/admin/calls/{id}"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (h["call_id"].is_string()).then_some(())
        })
        .await
        .expect("sent");
        let res = http
            .post(format!("{}/webhooks/bland", proc.address))
            .json(&json!({"call_id": format!("call-{id}"), "answered_by": "voicemail", "metadata": {"request_id": id}}))
            .send()
            .await
            .expect("completion");
        assert_eq!(res.status(), StatusCode::OK);
    }
    let pending_url = format!("{}/api/admin/convoso/pending", proc.address);
    let failing = eventually(Duration::from_secs(10), || async {
        let p: Value = http
            .get(&pending_url)
            .header("X-API-Key", ADMIN_KEY)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (p["failing"] == 5).then_some(p)
    })
    .await
    .expect("five writes failing against an unreachable Convoso");
    assert!(!failing.to_string().contains(TOKEN));
    proc.child.kill().expect("kill -9");
    let _ = proc.child.wait();
    let mut logs: Vec<String> = proc.logs.try_iter().collect();

    let proc = start(env(&convoso.uri()));
    let got = wait_received(&convoso, "/v1/leads/update", 5).await;
    let pending_url = format!("{}/api/admin/convoso/pending", proc.address);
    eventually(Duration::from_secs(10), || async {
        let p: Value = http
            .get(&pending_url)
            .header("X-API-Key", ADMIN_KEY)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (p["writes"] == json!([])).then_some(())
    })
    .await
    .expect("every write done");
    let got_after = received(&convoso, "/v1/leads/update").await;
    assert_eq!(got_after.len(), got.len());
    let mut sent: Vec<String> = got_after.iter().map(|f| f["call_id"].clone()).collect();
    sent.sort();
    calls.sort();
    assert_eq!(sent, calls, "each write sent exactly once");
    assert!(got_after
        .iter()
        .all(|f| f["status"] == "A" && f["auth_token"] == TOKEN));
    logs.extend(proc.logs.try_iter());
    assert!(
        logs.iter().any(|l| l.contains("Convoso write failed")),
        "the failures were logged"
    );
    assert!(
        logs.iter().all(|l| !l.contains(TOKEN)),
        "the token is in no log line"
    );
}
