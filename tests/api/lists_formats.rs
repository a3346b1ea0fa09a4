//! Do-not-call lists, the second part: the file formats an upload may come in (gzip, zip
//! with one file per area code, CSV with a header), state lists applied by the lead's
//! state and by its area code's state, the lists each decision's trace records, hits by
//! list in both statistics and the audit, streamed uploads cut off or refused, and a
//! snapshot that fails its checksum at startup.

use std::io::Write;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp, ADMIN_KEY};
use crate::intake::post_lead;
use callgate::config::lists::{ListKind, ListSettings};

fn list(name: &str, kind: ListKind, max_age_days: Option<u32>, states: &[&str]) -> ListSettings {
    ListSettings {
        name: name.into(),
        kind,
        max_age_days,
        states: states.iter().map(|s| s.to_string()).collect(),
        exemption: None,
    }
}

fn three_lists() -> Vec<ListSettings> {
    vec![
        list("ftc", ListKind::NationalDnc, Some(31), &[]),
        list("tx", ListKind::StateDnc, Some(90), &["TX"]),
        list("ours", ListKind::InternalDnc, None, &[]),
    ]
}

/// `PUT path` with `body` as the admin: the status and the JSON answer.
pub async fn put(app: &TestApp, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let res = app
        .admin(Method::PUT, path)
        .body(body)
        .send()
        .await
        .expect("put");
    let status = res.status();
    (status, res.json().await.expect("json"))
}

fn gzip(text: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).expect("gzip");
    gz.finish().expect("gzip")
}

/// A zip with one file per area code, as the FTC ships them, stamped 2026-11-21.
fn zip(files: &[(&str, &str)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let when = zip::DateTime::from_date_and_time(2026, 11, 21, 8, 0, 0).expect("time");
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(when);
    for (name, text) in files {
        zip.start_file(*name, opts).expect("entry");
        zip.write_all(text.as_bytes()).expect("write");
    }
    zip.finish().expect("zip").into_inner()
}

fn blocklist_step(decision: &Value) -> Value {
    decision["trace"]
        .as_array()
        .and_then(|t| t.iter().find(|s| s["check"] == "blocklist"))
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn gzip_zip_and_csv_load_state_lists_apply_by_area_code_and_every_decision_records_its_lists()
{
    let app = spawn_app_with(|s| s.lists = three_lists()).await;
    let (status, ftc) = put(
        &app,
        "/api/admin/lists/ftc?downloaded_at=2026-11-20",
        gzip("3055551234\n305,5551235\n"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ftc}");
    assert_eq!(ftc["count"], 2);
    // Sent with `Content-Encoding: gzip` it reads the same.
    let res = app
        .admin(Method::PUT, "/api/admin/lists/ftc?downloaded_at=2026-11-20")
        .header("Content-Encoding", "gzip")
        .body(gzip("3055551234\n305,5551235\n"))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), StatusCode::OK);
    let again: Value = res.json().await.expect("json");
    assert_eq!(
        (again["version"].clone(), again["count"].clone()),
        (json!(2), json!(2)),
        "{again}"
    );
    // No date given: the zip's entries carry it.
    let (status, tx) = put(
        &app,
        "/api/admin/lists/tx",
        zip(&[("512.txt", "512,5550001\n"), ("305.txt", "305,5550301\n")]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tx}");
    assert_eq!(
        (tx["count"].clone(), tx["downloaded_at"].clone()),
        (json!(2), json!("2026-11-21"))
    );
    // A CSV whose header names no phone column is refused; `column` names it.
    let csv = "name,cell,notes\nAda,(404) 555-0000,asked\nBob,404.555.0001,\"said, stop\"\n";
    let (status, refused) = put(&app, "/api/admin/lists/ours", csv.into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("phone column")),
        "{refused}"
    );
    let (status, ours) = put(&app, "/api/admin/lists/ours?column=cell", csv.into()).await;
    assert_eq!(status, StatusCode::OK, "{ours}");
    assert_eq!(ours["count"], 2);
    let (status, ours) = put(
        &app,
        "/api/admin/lists/ours",
        "Phone Number,reason\n4045550000,asked\n4045550001,asked\nnope,bad\n".into(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "1 bad line in 3 is refused: {ours}"
    );
    let body: String = (0..200).map(|i| format!("404555{i:04},x\n")).collect();
    let (status, ours) = put(
        &app,
        "/api/admin/lists/ours",
        format!("phone,why\n{body}bad,x\n").into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ours}");
    assert_eq!(ours["invalid_lines"][0]["line"], 202, "{ours}");

    // The Texas list covers a Texas area code whatever the state field says, and a lead
    // whose state is Texas whatever its area code (at noon Eastern, inside every Texas
    // calling window).
    app.clock.advance(chrono::TimeDelta::hours(2));
    for (lead, phone, state) in [
        ("A", "5125550001", None),
        ("B", "5125550001", Some("FL")),
        ("C", "3055550301", Some("Texas")),
    ] {
        let mut l = json!({"phone_number": phone, "lead_id": lead});
        if let Some(s) = state {
            l["state"] = json!(s);
        }
        let (_, d) = post_lead(&app, l).await;
        assert_eq!(d["decision"], "blocked", "{lead}: {d}");
        assert_eq!(
            d["reason"], "Blocked: on state_dnc \"tx\" (snapshot 2026-11-21)",
            "{lead}"
        );
    }
    let (_, fl) = post_lead(
        &app,
        json!({"phone_number": "3055550301", "lead_id": "D", "state": "FL"}),
    )
    .await;
    assert_eq!(
        fl["decision"], "accepted",
        "a Florida lead is not on the Texas list: {fl}"
    );
    let (_, ours_hit) =
        post_lead(&app, json!({"phone_number": "4045550000", "lead_id": "E"})).await;
    assert_eq!(ours_hit["decision"], "blocked", "{ours_hit}");

    // Every decision that reached the lists records each with its version.
    let calls = app.calls("2026-11-23").await;
    let decision = |lead: &str| {
        calls
            .iter()
            .find(|c| c["event"] == "decision" && c["lead_id"] == lead)
            .cloned()
            .expect("decision")
    };
    let step = blocklist_step(&decision("D"));
    assert_eq!(
        step["lists"],
        json!([
            {"list": "ftc", "version": 2, "downloaded_at": "2026-11-20", "age_days": 3, "result": "clear"},
            {"list": "tx", "version": 1, "downloaded_at": "2026-11-21", "age_days": 2, "result": "not_covered"},
            {"list": "ours", "version": 2, "downloaded_at": "2026-11-23", "age_days": 0, "result": "clear"},
        ]),
        "{step}"
    );
    assert_eq!(blocklist_step(&decision("A"))["lists"][1]["result"], "hit");

    // Hits by list: the seed's statistics, the pipeline statistics, and the audit.
    let range = "start=2026-11-23&end=2026-11-23";
    let seed = app
        .get_json(&format!("/api/admin/blocklist/statistics?{range}"))
        .await;
    assert_eq!(seed["by_list"]["tx"]["count"], 3, "{seed}");
    assert_eq!(seed["by_list"]["ours"]["dates"]["2026-11-23"], 1, "{seed}");
    let pipeline = app
        .get_json(&format!("/api/admin/statistics?{range}"))
        .await;
    assert_eq!(pipeline["total"]["lists_checked"], 5, "{pipeline}");
    assert_eq!(pipeline["total"]["lists"]["tx"]["hits"], 3, "{pipeline}");
    let audit = app
        .get_json(&format!("/api/admin/lists/audit?{range}"))
        .await;
    let day = &audit["days"][0];
    assert_eq!(day["leads_checked"], 5, "{audit}");
    assert_eq!(
        day["lists"]["tx"],
        json!({"checked": 3, "hits": 3, "closed": 0, "exempt": 0, "versions": {"1": {
            "downloaded_at": "2026-11-21", "min_age_days": 2, "max_age_days": 2,
            "checked": 3, "hits": 3, "closed": 0, "exempt": 0}}}),
        "{audit}"
    );
    assert_eq!(day["lists"]["ftc"]["checked"], 5);
    let res = app
        .admin(
            Method::GET,
            &format!("/api/admin/lists/audit?{range}&format=csv"),
        )
        .send()
        .await
        .expect("csv");
    let csv = res.text().await.expect("text");
    assert!(csv.starts_with("date,leads_checked,list,version,downloaded_at,min_age_days,max_age_days,checked,hits,closed,exempt\n"), "{csv}");
    assert!(
        csv.contains("2026-11-23,5,tx,1,2026-11-21,2,2,3,3,0,0\n"),
        "{csv}"
    );
}

#[tokio::test]
async fn the_lists_still_apply_when_the_blocklist_is_turned_off() {
    let app = spawn_app_with(|s| s.lists = three_lists()).await;
    let (status, _) = put(&app, "/api/admin/lists/ftc", b"3055551234\n".to_vec()).await;
    assert_eq!(status, StatusCode::OK);
    let res = app
        .admin(Method::PUT, "/api/admin/blocklist/enabled")
        .json(&json!({"enabled": false}))
        .send()
        .await
        .expect("disable");
    assert_eq!(res.status(), StatusCode::OK);
    let (_, d) = post_lead(&app, json!({"phone_number": "3055551234", "lead_id": "A"})).await;
    assert_eq!(d["decision"], "blocked", "{d}");
}

/// Sends a list upload by hand: the head, then `sent` of the `declared` bytes, then
/// closes the connection's sending side. Returns what the server answered.
async fn raw_put(app: &TestApp, key: &str, declared: usize, sent: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.address.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "PUT /api/admin/lists/ftc HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\nContent-Length: {declared}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("head");
    s.write_all(sent).await.expect("body");
    s.shutdown().await.expect("half-close");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer).await;
    answer
}

#[tokio::test]
async fn a_cut_off_upload_is_refused_and_a_refused_key_is_answered_after_the_body() {
    let app = spawn_app_with(|s| s.lists = three_lists()).await;
    let (status, _) = put(&app, "/api/admin/lists/ftc", b"3055551234\n".to_vec()).await;
    assert_eq!(status, StatusCode::OK);
    let whole: String = (0..5000).map(|i| format!("212555{i:04}\n")).collect();
    // Half the declared body, then the connection closes: the list keeps version 1.
    let _ = raw_put(
        &app,
        ADMIN_KEY,
        whole.len(),
        &whole.as_bytes()[..whole.len() / 2],
    )
    .await;
    let all = app.get_json("/api/admin/lists").await;
    let ftc = all["lists"]
        .as_array()
        .and_then(|l| l.iter().find(|x| x["name"] == "ftc"))
        .cloned()
        .expect("ftc");
    assert_eq!(
        (ftc["snapshot"]["version"].clone(), ftc["count"].clone()),
        (json!(1), json!(1)),
        "{ftc}"
    );

    // A wrong key is answered 401 once the whole body is in.
    let answer = raw_put(&app, "wrong", whole.len(), whole.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("invalid API key"), "{answer}");
    // A bad parameter: 400, the list untouched.
    let res = app
        .admin(Method::PUT, "/api/admin/lists/ftc?format=changes")
        .body(whole.clone())
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .admin(Method::PUT, "/api/admin/lists/nope")
        .body(whole)
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_snapshot_that_fails_its_checksum_stops_startup_for_a_gated_list_only() {
    let app = spawn_app_with(|s| s.lists = three_lists()).await;
    for (name, body) in [("ftc", "3055551234\n"), ("ours", "4045550000\n")] {
        let (status, _) = put(&app, &format!("/api/admin/lists/{name}"), body.into()).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (settings, dir, _bland, clock) = app.stop().await;
    let lists = settings.data_dir.join("lists");
    // The stored snapshot, one byte changed: in the data directory, or in the database.
    let flip = |name: &str| {
        let path = lists.join(format!("{name}.snapshot"));
        let sql = format!(
            "UPDATE list_versions SET snapshot = set_byte(snapshot, length(snapshot) - 1, \
             255 - get_byte(snapshot, length(snapshot) - 1)) WHERE name = '{name}'"
        );
        let db = dir.db.as_ref();
        async move {
            match db {
                Some(db) => assert_eq!(db.execute(&sql).await.expect("damage the row"), 1),
                None => {
                    let mut bytes = std::fs::read(&path).expect("snapshot");
                    let last = bytes.len() - 1;
                    bytes[last] ^= 0xff;
                    std::fs::write(&path, bytes).expect("write");
                }
            }
        }
    };
    flip("ours").await;
    // An internal list is not gated: the server starts, the list starts empty.
    let app = crate::helpers::start_with(settings.clone(), dir.clone(), clock.clone()).await;
    let all = app.get_json("/api/admin/lists").await;
    let ours = all["lists"]
        .as_array()
        .and_then(|l| l.iter().find(|x| x["name"] == "ours"))
        .cloned()
        .expect("ours");
    assert_eq!(ours["status"], "empty", "{ours}");
    let (settings, dir, _bland, clock) = app.stop().await;
    flip("ftc").await;
    let err = callgate::startup::Application::build_with_clock(settings, clock)
        .await
        .err()
        .expect("refuses to start");
    let text = format!("{err:#}");
    assert!(
        text.contains("list `ftc`") && text.contains("checksum"),
        "{text}"
    );
    drop(dir);
}

#[tokio::test]
async fn the_cli_streams_a_file_to_a_running_server_or_loads_it_into_the_shared_database() {
    use crate::helpers::{on_postgres, path_str, run_binary};
    let app = spawn_app_with(|s| s.lists = three_lists()).await;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("dnc_2026-11-21.txt.gz");
    std::fs::write(&file, gzip("3055551234\n3055551235\n")).expect("file");
    let args: Vec<String> = [
        "lists",
        "import",
        "ftc",
        &path_str(&file),
        "--url",
        &app.address,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (out, stderr) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_binary(&args, &[("ADMIN_API_KEY", ADMIN_KEY)])
    })
    .await
    .expect("cli");
    assert!(out.status.success(), "{stderr}");
    let answer: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (
            answer["version"].clone(),
            answer["count"].clone(),
            answer["downloaded_at"].clone()
        ),
        (json!(1), json!(2), json!("2026-11-21")),
        "the date comes from the file's name: {answer}"
    );
    let all = app.get_json("/api/admin/lists").await;
    assert_eq!(
        all["lists"][0]["snapshot"]["source"], "dnc_2026-11-21.txt.gz",
        "{all}"
    );

    // Offline: on PostgreSQL the version goes into the database and the running server
    // takes it up; on files the running server holds the data directory and the CLI says so.
    let config = dir.path().join("callgate.toml");
    std::fs::write(&config, "[[lists]]\nname = \"ftc\"\nkind = \"national_dnc\"\n[[lists]]\nname = \"tx\"\nkind = \"state_dnc\"\nstates = [\"TX\"]\n[[lists]]\nname = \"ours\"\nkind = \"internal_dnc\"\n").expect("config");
    let plain = dir.path().join("ours.txt");
    std::fs::write(&plain, "4045550000\n").expect("file");
    let mut env: Vec<(String, String)> = app
        .backend_env()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    env.push(("CALLGATE_CONFIG".into(), path_str(&config)));
    let plain_arg = path_str(&plain);
    let (out, stderr) = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_binary(&["lists", "import", "ours", &plain_arg], &env)
    })
    .await
    .expect("cli");
    if on_postgres() {
        assert!(out.status.success(), "{stderr}");
        let seen = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
            let found = app
                .get_json("/api/admin/lists/lookup?phone=4045550000")
                .await;
            (found["lists"].as_array().is_some_and(|l| !l.is_empty())).then_some(found)
        })
        .await;
        assert!(
            seen.is_some(),
            "the running server took the database's version up"
        );
    } else {
        assert!(!out.status.success());
        assert!(
            stderr.contains("--url") || stderr.to_lowercase().contains("lock"),
            "{stderr}"
        );
    }
}
