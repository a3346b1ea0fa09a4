use super::*;
use crate::config::lists::{Exemption, ListKind};

fn list(kind: ListKind, max_age_days: Option<u32>) -> ListSettings {
    ListSettings {
        name: "ftc".into(),
        kind,
        max_age_days,
        states: Vec::new(),
        exemption: Some(Exemption {
            consent_field: "tcpa_consent_at".into(),
            max_age_days: 365,
        }),
    }
}

fn lead(extra: serde_json::Value) -> Lead {
    let mut fields = serde_json::json!({"phone_number": "3055551234", "lead_id": "L1"});
    if let (Some(f), Some(x)) = (fields.as_object_mut(), extra.as_object()) {
        f.extend(x.clone());
    }
    let serde_json::Value::Object(map) = fields else {
        unreachable!()
    };
    Lead::parse(map, &crate::domain::LeadFieldNames::default(), "US").expect("lead")
}

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("instant")
}

fn on_list() -> NumberSet {
    let mut set = NumberSet::new();
    set.insert(3055551234);
    set
}

#[test]
fn the_freshness_gate_closes_the_day_after_max_age() {
    let l = list(ListKind::NationalDnc, Some(31));
    let snap = Snapshot {
        version: 1,
        downloaded_at: day("2026-11-01"),
    };
    let set = on_list();
    let now = |d: &str| (at(&format!("{d}T15:00:00Z")), day(d));
    let v = |d: &str| {
        let (n, t) = now(d);
        judge(
            &l,
            Some((&snap, &set)),
            &lead(serde_json::json!({})),
            &[],
            Some(4045550000),
            n,
            t,
        )
    };
    assert_eq!(
        v("2026-12-02"),
        Verdict::Clear,
        "31 days old: still current"
    );
    assert!(
        matches!(v("2026-12-03"), Verdict::Closed { reason } if reason.contains("32 days old"))
    );
    assert_eq!(freshness(&l, Some(&snap), day("2026-11-27")), Freshness::Ok);
    assert_eq!(
        freshness(&l, Some(&snap), day("2026-11-28")),
        Freshness::Soon { days_left: 4 }
    );
    // Never loaded: closed. An internal list is never gated.
    let (n, t) = now("2026-11-02");
    assert!(matches!(
        judge(
            &l,
            None,
            &lead(serde_json::json!({})),
            &[],
            Some(3055551234),
            n,
            t
        ),
        Verdict::Closed { .. }
    ));
    let internal = list(ListKind::InternalDnc, None);
    assert_eq!(freshness(&internal, None, day("2030-01-01")), Freshness::Ok);
    // An emptied gated list is no current list; an emptied internal list just matches
    // nothing.
    let (n, t) = now("2026-11-02");
    let empty = NumberSet::new();
    assert!(matches!(
        judge(
            &l,
            Some((&snap, &empty)),
            &lead(serde_json::json!({})),
            &[],
            Some(4045550000),
            n,
            t
        ),
        Verdict::Closed { .. }
    ));
    assert_eq!(
        judge(
            &internal,
            Some((&snap, &empty)),
            &lead(serde_json::json!({})),
            &[],
            Some(4045550000),
            n,
            t
        ),
        Verdict::Clear
    );
}

#[test]
fn a_hit_names_the_list_and_its_snapshot() {
    let l = list(ListKind::NationalDnc, Some(31));
    let snap = Snapshot {
        version: 3,
        downloaded_at: day("2026-11-28"),
    };
    let set = on_list();
    let v = judge(
        &l,
        Some((&snap, &set)),
        &lead(serde_json::json!({})),
        &[],
        Some(3055551234),
        at("2026-12-01T15:00:00Z"),
        day("2026-12-01"),
    );
    assert_eq!(v, Verdict::Hit { prefix: None });
}

#[test]
fn consent_exempts_inside_its_age_and_never_from_internal_lists() {
    let snap = Snapshot {
        version: 1,
        downloaded_at: day("2026-11-28"),
    };
    let set = on_list();
    let now = at("2026-12-01T15:00:00Z");
    let today = day("2026-12-01");
    let national = list(ListKind::NationalDnc, Some(31));
    let with = |consent: &str| lead(serde_json::json!({"tcpa_consent_at": consent}));
    let judge_national = |l: &Lead| {
        judge(
            &national,
            Some((&snap, &set)),
            l,
            &[],
            Some(3055551234),
            now,
            today,
        )
    };
    assert!(matches!(
        judge_national(&with("2026-06-01T00:00:00Z")),
        Verdict::Exempt { .. }
    ));
    assert!(
        matches!(judge_national(&with("2025-12-01")), Verdict::Exempt { .. }),
        "365 days"
    );
    assert!(
        matches!(judge_national(&with("2025-11-30")), Verdict::Hit { .. }),
        "366 days"
    );
    assert!(
        matches!(judge_national(&with("2027-01-01")), Verdict::Hit { .. }),
        "in the future"
    );
    assert!(
        matches!(judge_national(&with("yesterday")), Verdict::Hit { .. }),
        "unreadable"
    );
    // A stale registry does not matter to a lead that consented.
    let stale_day = day("2027-06-01");
    assert!(matches!(
        judge(
            &national,
            Some((&snap, &set)),
            &with("2027-05-01"),
            &[],
            Some(3055551234),
            at("2027-06-01T15:00:00Z"),
            stale_day
        ),
        Verdict::Exempt { .. }
    ));
    let mut internal = list(ListKind::InternalDnc, None);
    internal.exemption = national.exemption.clone();
    assert!(matches!(
        judge(
            &internal,
            Some((&snap, &set)),
            &with("2026-11-30"),
            &[],
            Some(3055551234),
            now,
            today
        ),
        Verdict::Hit { .. }
    ));
}

#[test]
fn a_state_list_covers_only_its_states() {
    let mut tx = list(ListKind::StateDnc, Some(90));
    tx.states = vec!["TX".into()];
    tx.exemption = None;
    let snap = Snapshot {
        version: 1,
        downloaded_at: day("2026-11-28"),
    };
    let set = on_list();
    let v = |states: &[&str]| {
        judge(
            &tx,
            Some((&snap, &set)),
            &lead(serde_json::json!({})),
            states,
            Some(3055551234),
            at("2026-12-01T15:00:00Z"),
            day("2026-12-01"),
        )
    };
    assert!(matches!(v(&["TX"]), Verdict::Hit { .. }));
    assert!(
        matches!(v(&["FL", "tx"]), Verdict::Hit { .. }),
        "by area code"
    );
    assert_eq!(v(&["FL"]), Verdict::NotCovered);
    assert_eq!(v(&[]), Verdict::NotCovered);
}
