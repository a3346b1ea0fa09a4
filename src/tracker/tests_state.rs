use super::*;

#[tokio::test]
async fn a_rebuild_from_the_journal_restores_every_count() {
    let t = setup(json!({}));
    let dir = tempfile::tempdir().expect("tempdir");
    let journals =
        crate::journal::Journals::open(dir.path(), chrono_tz::America::New_York).expect("open");
    let a = lead("A", "3055551234", json!({}));
    let events = [
        accepted("r1", &a, "2026-11-22T20:00:00Z"),
        outcome("r1", &a, Outcome::Voicemail, "2026-11-22T20:01:00Z", &[]),
        accepted("r2", &a, "2026-11-23T14:00:00Z"),
        outcome("r2", &a, Outcome::Voicemail, "2026-11-23T14:01:00Z", &[]),
        accepted("r3", &a, "2026-11-23T15:00:00Z"),
    ];
    for e in &events {
        t.tracker.apply(e);
        journals.append_call(e).wait().await.expect("durable");
    }
    let fresh = run(Tracker::open(
        chrono_tz::America::New_York,
        files(dir.path()),
    ))
    .expect("tracker");
    let now = at("2026-11-23T15:05:00Z");
    assert_eq!(
        fresh
            .rebuild(
                dir.path(),
                now,
                &crate::store::quarantine::Quarantine::in_memory()
            )
            .expect("rebuild"),
        5
    );
    let (x, y) = (
        t.tracker.view("+13055551234", "A", now),
        fresh.view("+13055551234", "A", now),
    );
    assert_eq!((x.calls_today, x.recent.len()), (2, 3));
    assert_eq!((y.calls_today, y.recent.len()), (2, 3));
    assert_eq!(x.outcomes_today, y.outcomes_today);
    assert_eq!(
        y.outcomes_today[outcome_index(Outcome::Voicemail)],
        1,
        "yesterday's is not today's"
    );
    assert_eq!(
        y.active.map(|a| a.request_id.to_string()),
        Some("r3".into())
    );
    assert_eq!(x.last_accepted, y.last_accepted);
}

#[test]
fn past_days_are_dropped_when_the_day_rolls() {
    let t = setup(json!({}));
    for i in 0..1000 {
        let l = lead("A", &format!("+1305555{i:04}"), json!({}));
        call(
            &t,
            &format!("r{i}"),
            &l,
            Outcome::NoAnswer,
            "2026-11-23T15:00:00Z",
        );
    }
    assert_eq!(t.tracker.size(), (1000, 1000));
    t.tracker.prune(at("2026-11-24T12:00:00Z"));
    assert_eq!(
        t.tracker.size(),
        (1000, 0),
        "numbers stay for the rolling 24 h"
    );
    t.tracker.prune(at("2026-11-25T12:00:00Z"));
    assert_eq!(t.tracker.size(), (0, 0));
}

#[test]
fn a_call_bland_never_took_counts_against_neither_the_duplicate_window_nor_the_caps() {
    let mut rules = only("duplicate");
    rules["rules"]["daily_cap"] = json!(true);
    rules["max_daily_attempts_per_number"] = json!(1);
    let t = setup(rules);
    let a = lead("A", "3055551234", json!({}));
    let dispatch = dispatch_of_a;
    t.tracker.apply(&accepted("r1", &a, "2026-11-23T15:00:00Z"));
    assert!(blocked(&t, &a, "2026-11-23T15:01:00Z").starts_with("duplicate"));
    t.tracker.apply(&dispatch(
        "r1",
        DispatchStatus::Failed,
        "2026-11-23T15:02:00Z",
    ));
    allowed(&t, &a, "2026-11-23T15:03:00Z");
    // An admin's cancel of an unconfirmed call (Bland may have it) still counts.
    t.tracker.apply(&accepted("r2", &a, "2026-11-23T15:04:00Z"));
    t.tracker.apply(&dispatch(
        "r2",
        DispatchStatus::Cancelled,
        "2026-11-23T15:05:00Z",
    ));
    assert!(blocked(&t, &a, "2026-11-23T15:30:00Z").starts_with("daily cap"));
}

fn external(id: &str, lead_id: &str, placed: &str, o: Option<Outcome>) -> CallEvent {
    CallEvent::External {
        timestamp: at("2026-11-23T15:00:00Z"),
        request_id: format!("req_{id}"),
        source: "convoso".into(),
        id: id.into(),
        lead_id: lead_id.into(),
        phone: "+13055551234".into(),
        at: at(placed),
        outcome: o,
    }
}

#[test]
fn a_call_placed_elsewhere_counts_at_its_own_instant_and_a_late_one_keeps_todays_counts() {
    let t = setup(json!({}));
    let a = lead("A", "3055551234", json!({}));
    t.tracker.apply(&accepted("r1", &a, "2026-11-23T14:00:00Z"));
    t.tracker.apply(&outcome(
        "r1",
        &a,
        Outcome::Voicemail,
        "2026-11-23T14:01:00Z",
        &[],
    ));
    // Placed before ours, reported after: kept in order, counted today.
    t.tracker.apply(&external(
        "e1",
        "A",
        "2026-11-23T13:00:00Z",
        Some(Outcome::Voicemail),
    ));
    // Placed yesterday evening (New York): in the rolling 24 h, not in today's counts.
    t.tracker.apply(&external(
        "e2",
        "A",
        "2026-11-23T03:00:00Z",
        Some(Outcome::NoAnswer),
    ));
    let v = t
        .tracker
        .view("+13055551234", "A", at("2026-11-23T15:05:00Z"));
    assert_eq!((v.calls_today, v.recent.len()), (2, 3));
    let mut sorted = v.recent.clone();
    sorted.sort_unstable();
    assert_eq!(v.recent, sorted, "oldest first");
    assert_eq!(v.outcomes_today[outcome_index(Outcome::Voicemail)], 2);
    assert_eq!(v.outcomes_today[outcome_index(Outcome::NoAnswer)], 0);
    assert_eq!(
        v.last_accepted,
        Some(at("2026-11-23T14:00:00Z").timestamp())
    );
    assert!(
        v.active.is_none(),
        "a call placed elsewhere never holds the line"
    );
    assert!(t.tracker.has_external("+13055551234", "convoso", "e1"));
    assert!(!t.tracker.has_external("+13055551234", "convoso", "e3"));
    assert!(!t.tracker.has_external("+13055559999", "convoso", "e1"));
}
