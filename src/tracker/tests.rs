//! The trackers at fixed instants. Monday 2026-11-23 15:00Z is 10:00 Eastern.

use serde_json::json;

use super::checks::{AnsweringMachineCheck, ProtectionCheck};
use super::*;
use crate::domain::Lead;
use crate::pipeline::{Check, Verdict};
use crate::schedule::rules::Rules;
use crate::store::doc_store::{files, run};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("instant")
}

struct T {
    _dir: tempfile::TempDir,
    tracker: Arc<Tracker>,
    am: AnsweringMachineCheck,
    protection: ProtectionCheck,
}

fn setup(patch: serde_json::Value) -> T {
    let dir = tempfile::tempdir().expect("tempdir");
    let tracker = Arc::new(
        run(Tracker::open(
            chrono_tz::America::New_York,
            files(dir.path()),
        ))
        .expect("tracker"),
    );
    run(tracker.protection.update(&patch)).expect("valid patch");
    T {
        am: AnsweringMachineCheck(tracker.clone()),
        protection: ProtectionCheck {
            tracker: tracker.clone(),
            rules: Arc::new(Rules::built_in().expect("rules")),
            state_fields: vec!["state".into()],
        },
        tracker,
        _dir: dir,
    }
}

fn lead(id: &str, phone: &str, extra: serde_json::Value) -> Lead {
    let mut map = json!({"lead_id": id, "phone_number": phone});
    if let (Some(m), Some(e)) = (map.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    Lead::parse(
        map.as_object().cloned().unwrap_or_default(),
        &Default::default(),
        "US",
    )
    .expect("lead")
}

fn accepted(rid: &str, l: &Lead, when: &str) -> CallEvent {
    CallEvent::Decision {
        timestamp: at(when),
        request_id: rid.into(),
        lead_id: Some(l.lead_id.clone()),
        phone: Some(l.phone.as_str().into()),
        decision: Decision::Accepted,
        stage: None,
        reason: None,
        release: false,
        queue_id: None,
        release_at: None,
        trace: None,
        attempt: None,
        fields: None,
    }
}

fn outcome(rid: &str, l: &Lead, o: Outcome, when: &str, tags: &[&str]) -> CallEvent {
    CallEvent::Outcome {
        timestamp: at(when),
        request_id: Some(rid.into()),
        call_id: format!("call-{rid}"),
        outcome: o,
        duration_s: None,
        matched: true,
        lead_id: Some(l.lead_id.clone()),
        phone: Some(l.phone.as_str().into()),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        source: None,
    }
}

/// A call accepted at `when` that ends at once with `o`.
fn call(t: &T, rid: &str, l: &Lead, o: Outcome, when: &str) {
    t.tracker.apply(&accepted(rid, l, when));
    t.tracker.apply(&outcome(rid, l, o, when, &[]));
}

fn verdict(t: &T, l: &Lead, when: &str) -> Verdict {
    match t.am.evaluate(l, at(when)) {
        Verdict::Allow => t.protection.evaluate(l, at(when)),
        refused => refused,
    }
}

#[track_caller]
fn blocked(t: &T, l: &Lead, when: &str) -> String {
    match verdict(t, l, when) {
        Verdict::Block { reason, .. } => reason,
        other => panic!("expected a block at {when}, got {other:?}"),
    }
}

#[track_caller]
fn deferred(t: &T, l: &Lead, when: &str, until: &str) -> String {
    match verdict(t, l, when) {
        Verdict::Defer { until: u, reason } => {
            assert_eq!(u, at(until), "{reason}");
            reason
        }
        other => panic!("expected a deferral at {when}, got {other:?}"),
    }
}

#[track_caller]
fn allowed(t: &T, l: &Lead, when: &str) {
    assert_eq!(verdict(t, l, when), Verdict::Allow, "at {when}");
}

/// Only the rule under test: caps high, other rules off as needed.
/// A dispatch of lead A's call on +13055551234.
fn dispatch_of_a(rid: &str, status: DispatchStatus, when: &str) -> CallEvent {
    CallEvent::Dispatch {
        timestamp: at(when),
        request_id: rid.into(),
        status,
        lead_id: Some("A".into()),
        phone: Some("+13055551234".into()),
        call_id: None,
        error: None,
        caller_id: None,
    }
}

fn only(rule: &str) -> serde_json::Value {
    let mut rules = json!({"active_call": false, "duplicate": false, "daily_cap": false,
        "rolling_cap": false, "terminal_outcomes": false, "terminal_status": false,
        "invalid_numbers": false});
    rules[rule] = json!(true);
    json!({"rules": rules})
}

#[test]
fn answering_machine_blocks_at_the_fourth_unanswered_call_of_the_day() {
    let t = setup(only("invalid_numbers"));
    let l = lead("7", "3055551234", json!({}));
    call(&t, "r1", &l, Outcome::Voicemail, "2026-11-23T14:00:00Z");
    call(&t, "r2", &l, Outcome::NoAnswer, "2026-11-23T15:00:00Z");
    call(&t, "r3", &l, Outcome::Busy, "2026-11-23T15:10:00Z");
    call(&t, "r4", &l, Outcome::Voicemail, "2026-11-23T16:00:00Z");
    allowed(&t, &l, "2026-11-23T17:00:00Z");
    call(&t, "r5", &l, Outcome::NoAnswer, "2026-11-23T17:00:00Z");
    let reason = blocked(&t, &l, "2026-11-23T17:00:01Z");
    assert!(
        reason.starts_with("answering machine: 4 calls today"),
        "{reason}"
    );
    // Another lead id on the same number is counted apart.
    allowed(
        &t,
        &lead("8", "3055551234", json!({})),
        "2026-11-23T17:00:01Z",
    );
    // Counting busy too makes it 5; a new business day (00:00 Eastern) starts at zero.
    run(t.tracker.am.update(
        &json!({"counted_outcomes": ["voicemail", "no_answer", "busy"], "max_attempts_per_day": 5}),
    ))
    .expect("config");
    assert!(blocked(&t, &l, "2026-11-24T04:59:59Z").starts_with("answering machine: 5"));
    allowed(&t, &l, "2026-11-24T05:00:00Z");
    run(t.tracker.am.update(&json!({"enabled": false}))).expect("off");
    allowed(&t, &l, "2026-11-23T17:00:01Z");
}

#[test]
fn a_line_in_use_defers_until_its_outcome_or_the_automatic_release() {
    let t = setup(only("active_call"));
    let a = lead("A", "3055551234", json!({}));
    let b = lead("B", "(305) 555-1234", json!({}));
    t.tracker.apply(&accepted("r1", &a, "2026-11-23T15:00:00Z"));
    // 30 min call + 5 min margin.
    let reason = deferred(&t, &b, "2026-11-23T15:10:00Z", "2026-11-23T15:35:00Z");
    assert!(reason.contains("in progress"), "{reason}");
    deferred(&t, &b, "2026-11-23T15:34:59Z", "2026-11-23T15:35:00Z");
    allowed(&t, &b, "2026-11-23T15:35:00Z");
    // The outcome frees the line at once.
    t.tracker.apply(&outcome(
        "r1",
        &a,
        Outcome::Human,
        "2026-11-23T15:05:00Z",
        &[],
    ));
    allowed(&t, &b, "2026-11-23T15:05:00Z");
    assert!(t.tracker.active().is_empty());
}

#[test]
fn a_dispatch_that_placed_no_call_frees_the_line_and_a_sent_one_restarts_the_clock() {
    let t = setup(only("active_call"));
    let a = lead("A", "3055551234", json!({}));
    let b = lead("B", "3055551234", json!({}));
    let dispatch = |status, when: &str| dispatch_of_a("r1", status, when);
    t.tracker.apply(&accepted("r1", &a, "2026-11-23T15:00:00Z"));
    t.tracker
        .apply(&dispatch(DispatchStatus::Sent, "2026-11-23T15:02:00Z"));
    deferred(&t, &b, "2026-11-23T15:35:00Z", "2026-11-23T15:37:00Z");
    t.tracker
        .apply(&dispatch(DispatchStatus::Failed, "2026-11-23T15:03:00Z"));
    allowed(&t, &b, "2026-11-23T15:03:00Z");
}

#[test]
fn transferred_blocks_for_the_day_or_cools_down() {
    let t = setup(only("terminal_outcomes"));
    let a = lead("A", "3055551234", json!({}));
    call(&t, "r1", &a, Outcome::Transferred, "2026-11-23T15:00:00Z");
    let reason = blocked(&t, &a, "2026-11-24T04:59:59Z");
    assert!(reason.contains("transferred"), "{reason}");
    allowed(&t, &a, "2026-11-24T05:00:00Z");
    // With only the line rule on, a transfer keeps the line busy for 30 minutes.
    run(t.tracker.protection.update(&only("active_call"))).expect("config");
    deferred(&t, &a, "2026-11-23T15:29:59Z", "2026-11-23T15:30:00Z");
    allowed(&t, &a, "2026-11-23T15:30:00Z");
}

#[test]
fn not_interested_tags_end_the_day_for_the_number() {
    let t = setup(only("terminal_outcomes"));
    let a = lead("A", "3055551234", json!({}));
    t.tracker.apply(&accepted("r1", &a, "2026-11-23T15:00:00Z"));
    t.tracker.apply(&outcome(
        "r1",
        &a,
        Outcome::Human,
        "2026-11-23T15:03:00Z",
        &["qualified", "Do Not Call"],
    ));
    let other = lead("B", "3055551234", json!({}));
    assert!(blocked(&t, &other, "2026-11-23T20:00:00Z").contains("do_not_call"));
    allowed(&t, &other, "2026-11-24T05:00:00Z");
}

#[test]
fn duplicates_are_blocked_inside_the_window_only() {
    let t = setup(only("duplicate"));
    let a = lead("A", "3055551234", json!({}));
    call(&t, "r1", &a, Outcome::Human, "2026-11-23T15:00:00Z");
    let reason = blocked(&t, &a, "2026-11-23T15:09:59Z");
    assert!(reason.starts_with("duplicate"), "{reason}");
    allowed(&t, &a, "2026-11-23T15:10:00Z");
    allowed(
        &t,
        &lead("B", "3055551234", json!({})),
        "2026-11-23T15:01:00Z",
    );
}

#[test]
fn the_daily_cap_counts_calls_per_number_per_business_day() {
    let t = setup(only("daily_cap"));
    for (i, when) in ["14:00", "15:00", "16:00"].iter().enumerate() {
        let l = lead(&format!("L{i}"), "2125551234", json!({}));
        // Up to the third call it is allowed; only the fourth is refused.
        allowed(&t, &l, &format!("2026-11-23T{when}:00Z"));
        call(
            &t,
            &format!("r{i}"),
            &l,
            Outcome::Human,
            &format!("2026-11-23T{when}:00Z"),
        );
    }
    let next = lead("L9", "2125551234", json!({}));
    assert!(blocked(&t, &next, "2026-11-24T04:59:59Z").starts_with("daily cap: 3 calls"));
    allowed(&t, &next, "2026-11-24T05:00:00Z");
}

#[test]
fn florida_numbers_have_a_rolling_24_hour_cap() {
    let t = setup(only("rolling_cap"));
    for (i, when) in ["15:00", "16:00", "17:00"].iter().enumerate() {
        let l = lead(&format!("L{i}"), "3055551234", json!({}));
        call(
            &t,
            &format!("r{i}"),
            &l,
            Outcome::Human,
            &format!("2026-11-23T{when}:00Z"),
        );
        let l = lead(&format!("L{i}"), "2125551234", json!({}));
        call(
            &t,
            &format!("n{i}"),
            &l,
            Outcome::Human,
            &format!("2026-11-23T{when}:00Z"),
        );
    }
    let fl = lead("L9", "3055551234", json!({}));
    // The next business day, but within 24 h of the first call: still blocked.
    let reason = blocked(&t, &fl, "2026-11-24T14:59:59Z");
    assert!(reason.starts_with("FL cap: 3 calls"), "{reason}");
    assert!(reason.contains("2026-11-24T15:00:00Z"), "{reason}");
    allowed(&t, &fl, "2026-11-24T15:00:00Z");
    // A New York number has no rolling cap; a New York number of a Florida lead does.
    allowed(
        &t,
        &lead("L9", "2125551234", json!({})),
        "2026-11-24T14:00:00Z",
    );
    assert!(blocked(
        &t,
        &lead("L9", "2125551234", json!({"state": "FL"})),
        "2026-11-24T14:00:00Z"
    )
    .starts_with("FL cap"));
}

#[test]
fn terminal_statuses_and_invalid_numbers_are_blocked_without_state() {
    let t = setup(json!({}));
    let reason = blocked(
        &t,
        &lead("A", "3055551234", json!({"status": " dnc "})),
        "2026-11-23T15:00:00Z",
    );
    assert_eq!(reason, "lead status DNC is terminal; not called");
    allowed(
        &t,
        &lead("A", "3055551234", json!({"status": "NEW"})),
        "2026-11-23T15:00:00Z",
    );
    assert!(blocked(
        &t,
        &lead("A", "8005551234", json!({})),
        "2026-11-23T15:00:00Z"
    )
    .contains("toll-free"));
    run(t.tracker.protection.update(&json!({"enabled": false}))).expect("off");
    allowed(
        &t,
        &lead("A", "8005551234", json!({"status": "DNC"})),
        "2026-11-23T15:00:00Z",
    );
}

/// The state kept across calls, days and restarts.
#[path = "tests_state.rs"]
mod state;
