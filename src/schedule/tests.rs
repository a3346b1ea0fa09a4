//! The scheduler at fixed instants. The week of Monday 16 November 2026 has no holiday;
//! Eastern is UTC−5 then, Central UTC−6, Mountain UTC−7, Pacific UTC−8.

use serde_json::{json, Value};

use super::window::WEEKDAYS;
use super::*;
use crate::store::doc_store::{files, run};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("instant")
}

fn scheduler(patch: Value) -> (tempfile::TempDir, Scheduler) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = run(Scheduler::open(
        dir.path(),
        chrono_tz::America::New_York,
        vec!["state".into()],
        files(dir.path()),
    ))
    .expect("scheduler");
    run(s.config.update(&patch)).expect("valid patch");
    (dir, s)
}

/// Business hours off: only the called party's window counts.
fn local_only() -> (tempfile::TempDir, Scheduler) {
    scheduler(json!({"enabled": false}))
}

fn lead(phone: &str, state: Option<&str>) -> Lead {
    let mut map = json!({"lead_id": "1", "phone_number": phone});
    if let Some(s) = state {
        map["state"] = json!(s);
    }
    Lead::parse(
        map.as_object().cloned().unwrap_or_default(),
        &Default::default(),
        "US",
    )
    .expect("lead")
}

#[track_caller]
fn allowed(s: &Scheduler, l: &Lead, now: &str) {
    assert_eq!(s.decide(l, at(now)), Verdict::Allow, "at {now}");
}

#[track_caller]
fn deferred(s: &Scheduler, l: &Lead, now: &str, until: &str) -> String {
    match s.decide(l, at(now)) {
        Verdict::Defer { until: u, reason } => {
            assert_eq!(u, at(until), "release time for {now}: {reason}");
            reason
        }
        other => panic!("expected a deferral at {now}, got {other:?}"),
    }
}

#[track_caller]
fn blocked(s: &Scheduler, l: &Lead, now: &str) -> String {
    match s.decide(l, at(now)) {
        Verdict::Block { reason, .. } => reason,
        other => panic!("expected a block at {now}, got {other:?}"),
    }
}

#[test]
fn each_weekday_at_ten_eastern() {
    let (_d, s) = scheduler(json!({}));
    let miami = lead("3055550123", None);
    for day in 16..=20 {
        allowed(&s, &miami, &format!("2026-11-{day}T15:00:00Z"));
    }
    let reason = deferred(&s, &miami, "2026-11-21T15:00:00Z", "2026-11-23T14:00:00Z");
    assert!(reason.contains("no calls on sat"), "{reason}");
    deferred(&s, &miami, "2026-11-22T15:00:00Z", "2026-11-23T14:00:00Z");
}

#[test]
fn every_weekday_opens_and_closes_on_the_second() {
    // Saturday gets its own window, Sunday stays closed.
    let (_d, s) = scheduler(json!({"hours": {"sat": {"start": "10:00", "end": "14:00"}}}));
    let miami = lead("3055550123", None);
    // Monday 16 … Friday 20 November: 09:00 Eastern is 14:00Z, 17:00 is 22:00Z.
    for day in 16..=20 {
        let next = if day == 20 {
            "2026-11-21T15:00:00Z".to_string()
        } else {
            format!("2026-11-{}T14:00:00Z", day + 1)
        };
        deferred(
            &s,
            &miami,
            &format!("2026-11-{day}T13:59:59Z"),
            &format!("2026-11-{day}T14:00:00Z"),
        );
        allowed(&s, &miami, &format!("2026-11-{day}T14:00:00Z"));
        allowed(&s, &miami, &format!("2026-11-{day}T21:59:59Z"));
        deferred(&s, &miami, &format!("2026-11-{day}T22:00:00Z"), &next);
    }
    deferred(&s, &miami, "2026-11-21T14:59:59Z", "2026-11-21T15:00:00Z");
    allowed(&s, &miami, "2026-11-21T18:59:59Z");
    deferred(&s, &miami, "2026-11-21T19:00:00Z", "2026-11-23T14:00:00Z");
    // Sunday: closed all day, including the last second before Monday.
    deferred(&s, &miami, "2026-11-23T04:59:59Z", "2026-11-23T14:00:00Z");
}

#[test]
fn business_hours_boundaries_to_the_second() {
    let (_d, s) = scheduler(json!({}));
    let miami = lead("3055550123", None);
    deferred(&s, &miami, "2026-11-17T13:59:59Z", "2026-11-17T14:00:00Z");
    allowed(&s, &miami, "2026-11-17T14:00:00Z");
    allowed(&s, &miami, "2026-11-17T21:59:59Z");
    deferred(&s, &miami, "2026-11-17T22:00:00Z", "2026-11-18T14:00:00Z");
}

#[test]
fn release_across_a_weekend() {
    let (_d, s) = scheduler(json!({}));
    let l = lead("2125550123", Some("NY"));
    deferred(&s, &l, "2026-11-20T22:30:00Z", "2026-11-23T14:00:00Z");
}

#[test]
fn florida_closes_at_eight_pm_where_federal_allows_nine() {
    let (_d, s) = local_only();
    // 20:30 Eastern on Tuesday. Florida spans Eastern and Central (the panhandle), so a
    // lead whose state says FL waits for 08:00 Central.
    let reason = deferred(
        &s,
        &lead("3055550123", Some("FL")),
        "2026-11-18T01:30:00Z",
        "2026-11-18T14:00:00Z",
    );
    assert!(reason.starts_with("FL calling window"), "{reason}");
    // With only the area code (305, Eastern) to go on: 08:00 Eastern.
    let reason = deferred(
        &s,
        &lead("3055550123", None),
        "2026-11-18T01:30:00Z",
        "2026-11-18T13:00:00Z",
    );
    assert!(reason.starts_with("FL calling window"), "{reason}");
    allowed(&s, &lead("2125550123", Some("NY")), "2026-11-18T01:30:00Z");
    // A Florida resident with a New York number: Florida's rule still applies.
    deferred(
        &s,
        &lead("2125550123", Some("FL")),
        "2026-11-18T01:30:00Z",
        "2026-11-18T14:00:00Z",
    );
}

#[test]
fn california_at_half_past_eight_eastern_waits_for_eight_pacific() {
    let (_d, s) = scheduler(json!({}));
    // 08:30 Eastern = 05:30 Pacific. Business opens at 09:00 ET, California at 11:00 ET.
    let reason = deferred(
        &s,
        &lead("4155550123", Some("CA")),
        "2026-11-17T13:30:00Z",
        "2026-11-17T16:00:00Z",
    );
    assert!(reason.starts_with("business hours"), "{reason}");
    allowed(&s, &lead("4155550123", Some("CA")), "2026-11-17T16:00:00Z");
}

#[test]
fn alabama_has_no_sunday_calls() {
    let (_d, s) = local_only();
    // Sunday 10:00 Central.
    let reason = deferred(
        &s,
        &lead("2055550123", Some("AL")),
        "2026-11-22T16:00:00Z",
        "2026-11-23T14:00:00Z",
    );
    assert!(
        reason.contains("AL calling window: no calls on sun"),
        "{reason}"
    );
    allowed(&s, &lead("2055550123", Some("AL")), "2026-11-23T14:00:00Z");
}

#[test]
fn texas_number_in_mountain_area_code_915() {
    let (_d, s) = local_only();
    let l = lead("9155550123", Some("TX"));
    // 09:30 Central is 08:30 Mountain: Texas opens at 09:00 local, so 09:00 Mountain.
    let reason = deferred(&s, &l, "2026-11-17T15:30:00Z", "2026-11-17T16:00:00Z");
    assert!(reason.contains("America/Denver"), "{reason}");
    allowed(&s, &l, "2026-11-17T16:00:00Z");
    // Sunday: Texas allows 12:00–21:00.
    deferred(&s, &l, "2026-11-22T17:30:00Z", "2026-11-22T19:00:00Z");
}

#[test]
fn a_multi_zone_area_code_must_be_open_in_each_zone() {
    let (_d, s) = local_only();
    let l = lead("8505550123", None);
    allowed(&s, &l, "2026-11-17T00:30:00Z");
    // 20:30 Eastern, 19:30 Central: closed in the Eastern half of 850.
    deferred(&s, &l, "2026-11-17T01:30:00Z", "2026-11-17T14:00:00Z");
    // 08:30 Eastern, 07:30 Central: opens at 08:00 Central.
    deferred(&s, &l, "2026-11-17T13:30:00Z", "2026-11-17T14:00:00Z");
}

#[test]
fn release_times_follow_both_dst_changes() {
    let (_d, s) = local_only();
    let l = lead("4155550123", Some("CA"));
    // Saturday 22:00 PST before spring-forward: Sunday 08:00 is PDT (UTC−7).
    deferred(&s, &l, "2026-03-08T06:00:00Z", "2026-03-08T15:00:00Z");
    // Saturday 22:00 PDT before fall-back: Sunday 08:00 is PST (UTC−8).
    deferred(&s, &l, "2026-11-01T05:00:00Z", "2026-11-01T16:00:00Z");
    // Business hours in New York across spring-forward: Monday 09:00 EDT is 13:00Z.
    let (_d2, s2) = scheduler(json!({"local_window": {"enabled": false}}));
    deferred(&s2, &l, "2026-03-07T15:00:00Z", "2026-03-09T13:00:00Z");
}

#[test]
fn federal_holidays_on_and_off() {
    let (_d, s) = scheduler(json!({}));
    let l = lead("3055550123", None);
    // Thanksgiving, Thursday 26 November 2026, 10:00 Eastern.
    let reason = deferred(&s, &l, "2026-11-26T15:00:00Z", "2026-11-27T14:00:00Z");
    assert!(reason.contains("Thanksgiving"), "{reason}");
    run(s.config.update(&json!({"federal_holidays": false}))).expect("switch off");
    allowed(&s, &l, "2026-11-26T15:00:00Z");
}

#[test]
fn state_holiday_bans_use_the_state_calendar() {
    let (_d, s) = local_only();
    // Pennsylvania: no calls the day after Thanksgiving; Florida has no such ban.
    let reason = deferred(
        &s,
        &lead("2155550123", Some("PA")),
        "2026-11-27T15:00:00Z",
        "2026-11-28T13:00:00Z",
    );
    assert!(reason.contains("Day after Thanksgiving"), "{reason}");
    allowed(&s, &lead("3055550123", Some("FL")), "2026-11-27T15:00:00Z");
}

#[test]
fn blackout_dates_close_the_business() {
    let (_d, s) = scheduler(json!({"blackout_dates": ["2026-11-17"]}));
    let reason = deferred(
        &s,
        &lead("3055550123", None),
        "2026-11-17T15:00:00Z",
        "2026-11-18T14:00:00Z",
    );
    assert!(reason.contains("blackout"), "{reason}");
}

#[test]
fn no_window_within_fourteen_days_blocks() {
    let closed: Value = WEEKDAYS
        .iter()
        .map(|d| (d.to_string(), Value::Null))
        .collect();
    let (_d, s) = scheduler(json!({"hours": closed}));
    let reason = blocked(&s, &lead("3055550123", None), "2026-11-17T15:00:00Z");
    assert!(
        reason.starts_with("no calling window opens within 14 days"),
        "{reason}"
    );
}

#[test]
fn unknown_zone_fails_closed_unless_the_operator_opts_out() {
    let (_d, s) = local_only();
    let unknown = lead("6245550123", None);
    let reason = blocked(&s, &unknown, "2026-11-17T18:00:00Z");
    assert_eq!(
        reason,
        "the called party's local time cannot be determined: the lead has no state; area code 624 is not in the area-code table"
    );
    let uk = lead("+442079460958", None);
    assert!(blocked(&s, &uk, "2026-11-17T18:00:00Z").contains("not a NANP number"));
    // A state is enough.
    allowed(
        &s,
        &lead("6245550123", Some("Texas")),
        "2026-11-17T18:00:00Z",
    );
    run(s
        .config
        .update(&json!({"local_window": {"unknown_zone": "all_us_zones"}})))
    .expect("opt out");
    // 13:00 Eastern is 08:00 in Hawaii (UTC−10): every US zone is open.
    allowed(&s, &unknown, "2026-11-17T18:00:00Z");
    deferred(&s, &unknown, "2026-11-17T17:59:59Z", "2026-11-17T18:00:00Z");
}

#[test]
fn local_window_off_leaves_only_business_hours() {
    let (_d, s) = scheduler(json!({"local_window": {"enabled": false}}));
    allowed(&s, &lead("6245550123", None), "2026-11-17T15:00:00Z");
    // 09:00 Eastern is 06:00 Pacific, but the operator switched the local window off.
    allowed(&s, &lead("4155550123", Some("CA")), "2026-11-17T14:00:00Z");
}

#[test]
fn the_config_persists_and_a_bad_update_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let open = || {
        run(Scheduler::open(
            dir.path(),
            chrono_tz::America::New_York,
            vec!["state".into()],
            files(dir.path()),
        ))
        .expect("scheduler")
    };
    let s = open();
    run(s
        .config
        .update(&json!({"hours": {"sat": {"start": "10:00", "end": "14:00"}}})))
    .expect("saturday");
    let err = run(s
        .config
        .update(&json!({"hours": {"sun": {"start": "12:00", "end": "11:00"}}, "enabled": false})))
    .err()
    .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("hours.sun: end 11:00 is not after start 12:00")
    );
    assert!(s.config.get().doc.enabled, "nothing changed");
    drop(s);
    let s = open();
    let sat = s.config.get().doc.hours.get("sat").cloned().flatten();
    assert_eq!(sat.map(|h| h.start), Some("10:00".to_string()));
    allowed(&s, &lead("3055550123", None), "2026-11-21T16:00:00Z");
}

#[test]
fn a_rules_file_in_the_data_dir_replaces_the_built_in_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let built_in: Value =
        serde_json::from_str(include_str!("../../rules/state-rules.json")).expect("json");
    let mut edited = built_in.clone();
    edited["version"] = json!("local-fix");
    edited["states"]["CA"]["weekday"] = json!({"start": "10:00", "end": "20:00"});
    std::fs::write(dir.path().join("state-rules.json"), edited.to_string()).expect("write");
    let s = run(Scheduler::open(
        dir.path(),
        chrono_tz::America::New_York,
        vec!["state".into()],
        files(dir.path()),
    ))
    .expect("scheduler");
    run(s.config.update(&json!({"enabled": false}))).expect("business off");
    assert_eq!(s.rules.version, "local-fix");
    assert!(s.rules.source.ends_with("state-rules.json"));
    // 09:30 Pacific: federal allows it, the corrected California row does not.
    deferred(
        &s,
        &lead("4155551234", Some("CA")),
        "2026-11-17T17:30:00Z",
        "2026-11-17T18:00:00Z",
    );
    // A broken file stops startup, naming the file.
    std::fs::write(dir.path().join("state-rules.json"), "{").expect("write");
    let err = run(Scheduler::open(
        dir.path(),
        chrono_tz::America::New_York,
        vec![],
        files(dir.path()),
    ))
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(err.contains("state-rules.json"), "{err}");
}
