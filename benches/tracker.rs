//! The `answering_machine` and `protection` checks on a tracker holding 100k numbers
//! (target: together ≤ 1 µs added to a decision), and the tracker's memory after 1M
//! distinct numbers in a day and after the day rolls (printed first).
//! Run: `cargo bench --bench tracker`

use std::hint::black_box;
use std::sync::Arc;

use callgate::domain::Lead;
use callgate::journal::{CallEvent, Decision, Outcome};
use callgate::pipeline::Check;
use callgate::schedule::rules::Rules;
use callgate::tracker::checks::{AnsweringMachineCheck, ProtectionCheck};
use callgate::tracker::Tracker;
use chrono::{DateTime, TimeDelta, Utc};
use criterion::Criterion;
use serde_json::json;

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// One accepted call for `phone` at `at`, and its voicemail outcome a minute later.
fn call(tracker: &Tracker, i: u64, at: DateTime<Utc>) {
    let phone = format!("+1305{:07}", 2_000_000 + i);
    let lead = format!("L{i}");
    tracker.apply(&CallEvent::Decision {
        timestamp: at,
        request_id: format!("req_{i:032}"),
        lead_id: Some(lead.clone()),
        phone: Some(phone.clone()),
        decision: Decision::Accepted,
        stage: None,
        reason: None,
        release: false,
        queue_id: None,
        release_at: None,
        trace: None,
        attempt: None,
        fields: None,
    });
    tracker.apply(&CallEvent::Outcome {
        timestamp: at + TimeDelta::minutes(1),
        request_id: Some(format!("req_{i:032}")),
        call_id: format!("call_{i}"),
        outcome: Outcome::Voicemail,
        duration_s: Some(20.0),
        matched: true,
        lead_id: Some(lead),
        phone: Some(phone),
        tags: Vec::new(),
        source: None,
    });
}

fn tracker(dir: &std::path::Path) -> Arc<Tracker> {
    let docs = Arc::new(callgate::store::doc_store::FileDocuments::new(dir));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    Arc::new(
        rt.block_on(Tracker::open(chrono_tz::America::New_York, docs))
            .expect("tracker"),
    )
}

fn memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = rss_mb();
    let t = tracker(dir.path());
    let day: DateTime<Utc> = "2026-11-23T14:00:00Z".parse().expect("instant");
    for i in 0..1_000_000u64 {
        call(&t, i, day + TimeDelta::milliseconds(i as i64 * 30));
    }
    let full = rss_mb();
    let (numbers, leads) = t.size();
    eprintln!(
        "tracker, 1M distinct numbers in a day: {numbers} numbers, {leads} lead pairs, RSS {before:.1} -> {full:.1} MB (+{:.1} MB)",
        full - before
    );
    // The next day the numbers stay for the rolling 24 h; the day after, nothing is left.
    let started = std::time::Instant::now();
    t.prune("2026-11-24T20:00:00Z".parse().expect("instant"));
    let prune_ms = started.elapsed().as_secs_f64() * 1e3;
    let (n1, l1) = t.size();
    t.prune("2026-11-25T20:00:00Z".parse().expect("instant"));
    let (n2, l2) = t.size();
    let after = rss_mb();
    // Fill again: freed memory is reused rather than added to.
    let next: DateTime<Utc> = "2026-11-25T14:00:00Z".parse().expect("instant");
    for i in 0..1_000_000u64 {
        call(
            &t,
            i + 5_000_000,
            next + TimeDelta::milliseconds(i as i64 * 30),
        );
    }
    let refilled = rss_mb();
    eprintln!(
        "after the day rolls: {n1} numbers / {l1} lead pairs (next day, the prune held the lock {prune_ms:.0} ms), {n2} / {l2} (day after); RSS {after:.1} MB; another 1M the day after: RSS {refilled:.1} MB"
    );
}

fn checks(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = tracker(dir.path());
    let day: DateTime<Utc> = "2026-11-23T14:00:00Z".parse().expect("instant");
    for i in 0..100_000u64 {
        call(&t, i, day + TimeDelta::milliseconds(i as i64 * 300));
    }
    let am = AnsweringMachineCheck(t.clone());
    let protection = ProtectionCheck {
        tracker: t.clone(),
        rules: Arc::new(Rules::built_in().expect("rules")),
        state_fields: vec!["state".into()],
    };
    let lead = |phone: &str| {
        let map = json!({"phone_number": phone, "lead_id": "L77", "state": "FL", "status": "NEW",
            "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"});
        Lead::parse(
            map.as_object().cloned().unwrap_or_default(),
            &Default::default(),
            "US",
        )
        .expect("lead")
    };
    let known = lead("+13052000077");
    let fresh = lead("+13059999999");
    let now: DateTime<Utc> = "2026-11-23T20:00:00Z".parse().expect("instant");
    assert!(matches!(
        protection.evaluate(&fresh, now),
        callgate::pipeline::Verdict::Allow
    ));
    let mut g = c.benchmark_group("tracker_checks_100k_numbers");
    g.bench_function("both_checks_number_seen_today", |b| {
        b.iter(|| {
            (
                am.evaluate(black_box(&known), now),
                protection.evaluate(black_box(&known), now),
            )
        })
    });
    g.bench_function("both_checks_new_number", |b| {
        b.iter(|| {
            (
                am.evaluate(black_box(&fresh), now),
                protection.evaluate(black_box(&fresh), now),
            )
        })
    });
    g.finish();
}

fn main() {
    memory();
    let mut c = Criterion::default().configure_from_args();
    checks(&mut c);
    c.final_summary();
}
