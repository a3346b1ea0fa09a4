//! `callgate migrate --from` brings the Node number pool's calls and lead mappings over
//! (the injected clock: Monday 2026-11-23, 10:00 in New York): the imported calls count
//! against a number's daily cap and show in its row, a lead Node last reached from a
//! number is called from it again (tier `sticky`), a re-run and a restart count nothing
//! twice; `migrate --to-database` carries it all to a database-mode instance.

use serde_json::{json, Value};

use crate::helpers::{path_str, run_binary, settled, spawn_app_with, start, TestApp};
use crate::intake::{bland_takes, live, post_lead, wait_for_calls};

const CAPPED: &str = "+13125550123";
const OTHER: &str = "+13125550124";
/// Two leads Node last reached from `OTHER` (one for each instance: a lead called by the
/// file instance is not called again by the database one, whose journal has that call).
const MAPPED: [&str; 2] = ["3125552199", "3125552188"];

fn node_dir(root: &std::path::Path) -> std::path::PathBuf {
    let node = root.join("node");
    std::fs::create_dir_all(node.join("number-pool")).expect("mkdir");
    std::fs::write(
        node.join("number-pool/performance.json"),
        json!([
            {"number": CAPPED, "cooldown_until": null, "stats": {}, "calls": [
                {"timestamp": "2026-11-23T13:00:00.000Z", "outcome": "SALE", "phone_number": "3125550101", "lead_id": "N1"},
                {"timestamp": "2026-11-23T14:00:00.000Z", "outcome": "NO_ANSWER", "phone_number": "3125550102", "lead_id": "N2"},
                {"timestamp": "2026-11-23T14:10:00.000Z", "outcome": "PERHAPS", "phone_number": "3125550103"}
            ]}
        ])
        .to_string(),
    )
    .expect("performance");
    std::fs::write(
        node.join("number-pool/lead-mappings.json"),
        json!([
            {"lead_id": "N9", "phone_number": MAPPED[0], "preferred_number": OTHER, "area_code_match": true,
             "last_successful_from": OTHER, "call_count": 3, "last_call_at": "2026-11-13T15:00:00.000Z"},
            {"lead_id": "N7", "phone_number": MAPPED[1], "last_successful_from": OTHER,
             "last_call_at": "2026-11-20T15:00:00.000Z"},
            {"lead_id": "N8", "phone_number": "3125550198", "last_successful_from": null, "call_count": 1,
             "last_call_at": "2026-11-13T15:00:00.000Z"}
        ])
        .to_string(),
    )
    .expect("mappings");
    node
}

fn pool(s: &mut callgate::config::Settings) {
    live(s);
    s.database_url = None;
    s.caller_ids = vec![
        json!({"number": CAPPED, "daily_cap": 2}),
        json!({"number": OTHER}),
    ];
}

fn migrate(data: &str, from: &str) -> String {
    let (out, stderr) = run_binary(&["migrate", "--from", from], &[("DATA_DIR", data)]);
    assert!(out.status.success(), "{stderr}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

async fn row(app: &TestApp, number: &str) -> Value {
    app.get_json(&format!("/api/admin/caller-ids/{number}"))
        .await
}

/// A lead to `phone` is placed from `OTHER`; the tier the dispatch line names.
async fn placed_from_other(app: &TestApp, phone: &str, lead: &str, sent: usize) -> Value {
    let (_, body) = post_lead(app, json!({"phone_number": phone, "lead_id": lead})).await;
    assert_eq!(body["decision"], "accepted", "{body}");
    let rid = body["request_id"].clone();
    let calls = wait_for_calls(app, sent).await;
    let call = calls
        .iter()
        .find(|c| c["metadata"]["request_id"] == rid)
        .expect("the call");
    assert_eq!(call["from"], OTHER, "{call}");
    settled(app).await;
    app.calls("2026-11-23")
        .await
        .iter()
        .find(|l| l["event"] == "dispatch" && l["request_id"] == rid)
        .map(|l| l["caller_id"]["tier"].clone())
        .unwrap_or(Value::Null)
}

/// What the pool shows of the imported history, and where two leads go.
async fn check_imported(app: &TestApp, sent: usize, [mapped, unmapped]: [&str; 2]) {
    let capped = row(app, CAPPED).await;
    assert_eq!(capped["calls_today"], 2, "{capped}");
    assert_eq!(capped["pickups"], 1, "{capped}");
    assert_eq!(capped["state"], "daily_cap", "{capped}");
    let recent = capped["recent_calls"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(recent.len(), 2, "{capped}");
    // The imported mapping: sticky; an unmapped Chicago lead: by area code.
    assert_eq!(
        placed_from_other(app, mapped, "M1", sent + 1).await,
        "sticky"
    );
    assert_eq!(
        placed_from_other(app, unmapped, "M2", sent + 2).await,
        "area_code"
    );
}

#[tokio::test]
async fn the_node_pools_calls_and_mappings_are_imported_once_and_used() {
    let app = spawn_app_with(pool).await;
    bland_takes(&app.bland).await;
    let (settings, dir, bland, clock) = app.stop().await;
    let from = path_str(&node_dir(dir.path()));
    let data = path_str(&settings.data_dir);
    let report = migrate(&data, &from);
    assert!(
        report.contains("number pool: 2 calls imported, 0 already imported, 1 invalid; 2 lead mappings imported, 0 invalid"),
        "{report}"
    );
    let again = migrate(&data, &from);
    assert!(
        again.contains("number pool: 0 calls imported, 2 already imported"),
        "{again}"
    );

    let app = start(settings.clone(), dir, bland, clock).await;
    check_imported(&app, 0, [MAPPED[0], "3125552177"]).await;
    // A restart seeds the imported calls again: still counted once.
    let (settings, dir, bland, clock) = app.stop().await;
    let app = start(settings.clone(), dir, bland, clock).await;
    let capped = row(&app, CAPPED).await;
    assert_eq!(capped["calls_today"], 2, "{capped}");
    let (settings, dir, bland, clock) = app.stop().await;

    let Some(scratch) = callgate::db::scratch::Scratch::create().await else {
        return;
    };
    let env = [
        ("DATA_DIR", data.clone()),
        ("DATABASE_URL", scratch.url.clone()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (out, stderr) = run_binary(&["migrate", "--to-database"], &env);
    assert!(out.status.success(), "{stderr}");
    let copied = String::from_utf8_lossy(&out.stdout).to_string();
    // The import's document (the pool's own is still the config file's default).
    assert!(copied.contains("config documents: 1 copied"), "{copied}");
    let mut db_settings = settings;
    db_settings.database_url = Some(callgate::config::Secret::new(scratch.url.clone()));
    db_settings.data_dir = dir.path().join("db-instance");
    // The file instance's two calls are not the database pool's history (its calls are
    // rows of their own; the import seeds them).
    let app = start(db_settings.clone(), dir, bland, clock).await;
    check_imported(&app, 2, [MAPPED[1], "3125552166"]).await;
    let (_, dir, bland, clock) = app.stop().await;
    let app = start(db_settings, dir, bland, clock).await;
    assert_eq!(row(&app, CAPPED).await["calls_today"], 2);
    drop(scratch);
}
