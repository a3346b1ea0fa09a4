//! The real binary: startup errors, the data-dir lock, SIGTERM, `kill -9`, the CLI.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{client, path_str, run_binary, spawn_process, ADMIN_KEY};

#[test]
fn invalid_settings_stop_startup_naming_the_setting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = path_str(dir.path());
    for (var, value) in [
        ("PORT", "abc"),
        ("TIMEZONE", "Mars/Base"),
        ("LOG_FORMAT", "xml"),
    ] {
        let (out, stderr) = run_binary(&["serve"], &[("DATA_DIR", &data), (var, value)]);
        assert!(!out.status.success(), "{var}={value} should fail");
        assert!(stderr.contains(var), "{var}: {stderr}");
    }
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    let (out, stderr) = run_binary(&["serve"], &[("DATA_DIR", &path_str(&file)), ("PORT", "0")]);
    assert!(!out.status.success());
    assert!(stderr.contains("DATA_DIR"), "{stderr}");
}

#[tokio::test]
async fn sigterm_stops_gracefully_with_exit_0_and_releases_the_lock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut proc = spawn_process(dir.path(), &[]);
    let res = client()
        .get(format!("{}/health", proc.address))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 200);
    let res = client()
        .post(format!("{}/api/admin/blocklist", proc.address))
        .header("X-API-Key", ADMIN_KEY)
        .header("X-Request-Id", "trace-me-123")
        .json(&json!({"field": "phone", "value": "3055551234"}))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 201);
    let res = client()
        .post(format!("{}/webhooks/lead", proc.address))
        .json(&json!({"phone_number": "3055550142", "lead_id": "LOG-1"}))
        .send()
        .await
        .expect("req");
    assert!(res.status().is_success());
    proc.signal("TERM");
    let status = proc.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0));
    // Every line logged while handling the request names it; the key is never logged.
    let logs: Vec<String> = proc.logs.try_iter().collect();
    let added = logs
        .iter()
        .find(|l| l.contains("blocklist flag added"))
        .expect("flag-added log line");
    assert!(added.contains("trace-me-123"), "{added}");
    let finished = logs
        .iter()
        .find(|l| l.contains("request finished") && l.contains("trace-me-123"));
    assert!(finished.is_some(), "{logs:?}");
    assert!(logs.iter().all(|l| !l.contains(ADMIN_KEY)));
    // Every decision is logged at INFO with its lead, number, decision and stage.
    let decided = logs
        .iter()
        .find(|l| l.contains("lead decided") && l.contains("LOG-1"))
        .expect("decision log line");
    assert!(
        decided.contains("+13055550142") && decided.contains("request_id"),
        "{decided}"
    );
    let line: Value = serde_json::from_str(decided).expect("a JSON log line");
    assert_eq!(line["decision"], "blocked", "the API's word: {decided}");
    assert_eq!(line["stage"], "protection", "{decided}");
    // Standard error is a pipe here (as under PM2 or journald): no colour codes.
    assert!(logs.iter().all(|l| !l.contains('\u{1b}')), "{logs:?}");
    // The document is complete after a clean shutdown.
    let doc: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("blocklist-config.json")).expect("doc"),
    )
    .expect("json");
    assert_eq!(doc["flags"][0]["value"], "+13055551234");
    // The lock is released: a new server starts on the same directory.
    let mut again = spawn_process(dir.path(), &[]);
    again.signal("INT");
    assert_eq!(again.wait_exit(Duration::from_secs(15)).code(), Some(0));
}

#[tokio::test]
async fn a_second_server_or_offline_writer_on_the_same_dir_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _running = spawn_process(dir.path(), &[]);
    let data = path_str(dir.path());
    let (out, stderr) = run_binary(
        &["serve"],
        &[("DATA_DIR", &data), ("PORT", "0"), ("HOST", "127.0.0.1")],
    );
    assert!(!out.status.success());
    assert!(
        stderr.contains("in use by another callgate process"),
        "{stderr}"
    );
    assert!(!stderr.contains("--url"), "serve has no --url: {stderr}");
    let csv = dir.path().join("in.csv");
    std::fs::write(&csv, "3055551234\n").expect("write");
    let (out, stderr) = run_binary(
        &["blocklist", "import", &path_str(&csv)],
        &[("DATA_DIR", &data)],
    );
    assert!(!out.status.success());
    assert!(
        stderr.contains("in use by another callgate process") && stderr.contains("--url"),
        "{stderr}"
    );
}

#[tokio::test]
async fn kill_9_right_after_a_201_keeps_the_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut proc = spawn_process(dir.path(), &[]);
    let http = client();
    let mut ids = Vec::new();
    for n in 0..20 {
        let res = http
            .post(format!("{}/api/admin/blocklist", proc.address))
            .header("X-API-Key", ADMIN_KEY)
            .json(&json!({"field": "lead_id", "value": format!("lead-{n}")}))
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), 201);
        ids.push(
            res.json::<Value>().await.expect("json")["flag"]["id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
    }
    proc.child.kill().expect("kill -9");
    let _ = proc.child.wait();
    let proc = spawn_process(dir.path(), &[]);
    let all: Value = http
        .get(format!("{}/api/admin/blocklist", proc.address))
        .header("X-API-Key", ADMIN_KEY)
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    let got: Vec<&str> = all["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .map(|f| f["id"].as_str().expect("id"))
        .collect();
    assert_eq!(got.len(), 20);
    for id in &ids {
        assert!(got.contains(&id.as_str()), "{id} lost");
    }
}

#[test]
fn offline_import_and_export() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = path_str(&dir.path().join("data"));
    let csv = dir.path().join("numbers.csv");
    std::fs::write(
        &csv,
        "field,value,reason\nphone,305-555-1234,asked\nphone,999,bad\nlead_id,7,dup\n",
    )
    .expect("write");
    let (out, stderr) = run_binary(
        &["blocklist", "import", &path_str(&csv)],
        &[("DATA_DIR", &data)],
    );
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("2 added") && stdout.contains("1 invalid") && stdout.contains("line 3"),
        "{stdout}"
    );
    let (out, stderr) = run_binary(
        &["blocklist", "export", "--format", "csv"],
        &[("DATA_DIR", &data)],
    );
    assert!(out.status.success(), "{stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains("+13055551234"));
    // Importing again adds nothing.
    let (out, _) = run_binary(
        &["blocklist", "import", &path_str(&csv)],
        &[("DATA_DIR", &data)],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 added, 2 already present"));
}

#[tokio::test]
async fn remote_import_goes_through_the_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let proc = spawn_process(dir.path(), &[]);
    let csv = dir.path().join("numbers.txt");
    std::fs::write(&csv, "3055551234\n3055550000\n").expect("write");
    let (out, stderr) = run_binary(
        &[
            "blocklist",
            "import",
            &path_str(&csv),
            "--url",
            &proc.address,
            "--api-key",
            ADMIN_KEY,
        ],
        &[],
    );
    assert!(out.status.success(), "{stderr}");
    let body: Value = serde_json::from_slice(&out.stdout).expect("json summary");
    assert_eq!(body["added"], 2);
}

#[tokio::test]
async fn offline_check_answers_beside_a_running_server_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("blocklist-config.json"),
        r#"{"enabled": true, "flags": [{"id": "f1", "field": "phone", "value": "3055551234", "expires_at": "2026-12-01T00:00:00Z"}]}"#,
    )
    .expect("config");
    let _server = spawn_process(dir.path(), &[]);
    let before: Vec<_> = walk(dir.path());
    let inputs = tempfile::tempdir().expect("tempdir");
    let lead = inputs.path().join("lead.json");
    std::fs::write(
        &lead,
        r#"{"phone_number": "(305) 555-1234", "lead_id": "7"}"#,
    )
    .expect("lead");
    let data = path_str(dir.path());
    let (out, stderr) = run_binary(
        &["check", &path_str(&lead), "--at", "2026-11-23T15:00:00Z"],
        &[("DATA_DIR", &data)],
    );
    assert!(out.status.success(), "{stderr}");
    let answer: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(answer["decision"], "blocked");
    assert_eq!(answer["flag_id"], "f1");
    assert_eq!(answer["trace"][0]["check"], "schedule");
    assert_eq!(answer["trace"][3]["check"], "blocklist");
    let wrapped = inputs.path().join("wrapped.json");
    std::fs::write(
        &wrapped,
        r#"{"lead": {"phone_number": "3055551234", "lead_id": "7"}, "at": "2026-12-02T00:00:00Z"}"#,
    )
    .expect("lead");
    let (out, _) = run_binary(&["check", &path_str(&wrapped)], &[("DATA_DIR", &data)]);
    let answer: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        answer["decision"], "accepted",
        "the flag has expired by then"
    );
    let bad = inputs.path().join("bad.json");
    std::fs::write(&bad, r#"{"lead_id": "7"}"#).expect("lead");
    let (out, stderr) = run_binary(&["check", &path_str(&bad)], &[("DATA_DIR", &data)]);
    assert!(!out.status.success());
    assert!(stderr.contains("phone_number"), "{stderr}");
    assert_eq!(before, walk(dir.path()), "check wrote nothing");
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("ls").flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
            out.push(format!("{} {len}", p.display()));
        }
    }
    out.sort();
    out
}

#[test]
fn pretty_logs_to_a_pipe_carry_no_colour_codes() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = crate::helpers::binary()
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CALLGATE_CONFIG", "/dev/null")
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("DATA_DIR", dir.path())
        .env("LOG_FORMAT", "pretty")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
    {
        let done = line.contains("callgate listening");
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        lines.iter().any(|l| l.contains("callgate listening")),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| !l.contains('\u{1b}')), "{lines:?}");
    // No ADMIN_API_KEY was given: said at startup, like a missing Bland key.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("WARN") && l.contains("no ADMIN_API_KEY")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_missing_database_is_named_once_with_how_to_create_it() {
    // Only to know that a server answers (and to skip without one, outside CI).
    let Some(scratch) = callgate::db::scratch::Scratch::create().await else {
        return;
    };
    let url = format!("{}_missing", scratch.url);
    let dir = tempfile::tempdir().expect("tempdir");
    let (out, stderr) = run_binary(
        &["serve"],
        &[
            ("DATA_DIR", &path_str(dir.path())),
            ("PORT", "0"),
            ("DATABASE_URL", &url),
        ],
    );
    assert!(!out.status.success());
    assert_eq!(stderr.matches("does not exist").count(), 1, "{stderr}");
    assert!(stderr.contains("createdb"), "{stderr}");
}
