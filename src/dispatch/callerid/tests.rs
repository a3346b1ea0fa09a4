//! The pool's arithmetic with a fixed clock and seeded randomness, and the file store's
//! take at the caps.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::json;

use super::config::PoolConfig;
use super::select::{self, Called, NumberStatus, State, Tally, UsedCall, Windows};
use super::store::{FileCalls, PoolCalls, Take};
use crate::journal::Outcome;
use crate::schedule::rules::Rules;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("instant")
}

/// 2026-03-10 15:30 UTC, a Tuesday: 11:30 in New York.
fn now() -> DateTime<Utc> {
    at("2026-03-10T15:30:00Z")
}

fn windows() -> Windows {
    Windows {
        hour: at("2026-03-10T15:00:00Z"),
        next_hour: at("2026-03-10T16:00:00Z"),
        day: at("2026-03-10T04:00:00Z"),
        next_day: at("2026-03-11T04:00:00Z"),
    }
}

fn pool(numbers: serde_json::Value) -> PoolConfig {
    let mut doc = serde_json::to_value(PoolConfig::default()).expect("doc");
    doc["numbers"] = numbers;
    PoolConfig::parse(&doc).expect("parses")
}

fn call(number: &str, phone: &str, minutes_ago: i64, outcome: Option<Outcome>) -> UsedCall {
    let t = now() - Duration::minutes(minutes_ago);
    UsedCall {
        request_id: format!("req_{number}_{minutes_ago}_{phone}"),
        number: number.into(),
        phone: phone.into(),
        at: t,
        outcome: outcome.map(|o| (o, t + Duration::minutes(1))),
    }
}

fn states(c: &PoolConfig, calls: &[UsedCall]) -> (Vec<NumberStatus>, Tally) {
    let t = select::tally(c, calls, &windows(), now());
    (select::statuses(c, &t, &windows(), now()), t)
}

fn profiles(c: &PoolConfig) -> super::Profiles {
    let rules = Rules::built_in().expect("rules");
    super::compile(c, &rules)
}

fn choose(c: &PoolConfig, calls: &[UsedCall], lead: &str, sticky: Option<&str>) -> String {
    let rules = Rules::built_in().expect("rules");
    let (st, _) = states(c, calls);
    let npa = &lead[2..5];
    let place = rules.area_code(npa);
    let called = Called {
        area_code: Some(npa),
        state: place.map(|(s, _)| s),
        zones: place.map_or(&[], |(_, z)| z),
        sticky,
    };
    let mut rng = StdRng::seed_from_u64(7);
    let (choice, _) = select::choose(&st, &profiles(c), &called, &mut rng).expect("a number");
    format!("{} {}", choice.number, choice.tier)
}

/// Chicago (312), another Illinois area code tagged (217), Denver (303, Mountain),
/// New York (212, Eastern), and Los Angeles (213, Pacific).
fn five() -> PoolConfig {
    pool(json!({
        "+13125550001": {},
        "+13125550002": {"area_codes": ["217"], "states": ["IL"]},
        "+13035550003": {},
        "+12125550004": {},
        "+12135550005": {}
    }))
}

#[test]
fn tiers_in_order_sticky_area_code_state_zone_any() {
    let c = five();
    // The number that last reached this lead wins while usable.
    assert_eq!(
        choose(&c, &[], "+13125559999", Some("+12135550005")),
        "+12135550005 sticky"
    );
    // 217 is tagged on one number only.
    assert_eq!(
        choose(&c, &[], "+12175559999", None),
        "+13125550002 area_code"
    );
    // 630 is Illinois: both Chicago numbers serve the state (their area code's).
    let il = choose(&c, &[], "+16305559999", None);
    assert!(il.ends_with(" state") && il.starts_with("+1312"), "{il}");
    // 801 is Utah: not Colorado, but the same Mountain zone as Denver.
    assert_eq!(
        choose(&c, &[], "+18015559999", None),
        "+13035550003 time_zone"
    );
    // Hawaii (808): no tier but any.
    assert!(choose(&c, &[], "+18085559999", None).ends_with(" any"));
}

#[test]
fn a_sticky_number_that_is_not_usable_is_passed_over() {
    let mut c = five();
    c.numbers.get_mut("+12135550005").expect("n").enabled = false;
    assert_eq!(
        choose(&c, &[], "+13125550000", Some("+12135550005"))
            .split(' ')
            .nth(1),
        Some("area_code")
    );
}

#[test]
fn weights_follow_pickups_with_a_neutral_start_and_the_same_seed_gives_the_same_picks() {
    let c = pool(json!({"+13125550001": {}, "+13125550002": {}, "+13125550003": {}}));
    let mut calls = Vec::new();
    for i in 0..10 {
        calls.push(call(
            "+13125550001",
            "+13055550100",
            100 + i,
            Some(Outcome::Human),
        ));
        let o = if i < 9 {
            Outcome::Voicemail
        } else {
            Outcome::Human
        };
        calls.push(call("+13125550002", "+13055550100", 200 - i * 10, Some(o)));
    }
    let (st, _) = states(&c, &calls);
    let w: BTreeMap<&str, f64> = st.iter().map(|s| (s.number.as_str(), s.weight)).collect();
    assert!(
        (w["+13125550003"] - 0.5).abs() < 1e-9,
        "a new number is neutral: {w:?}"
    );
    assert!(w["+13125550001"] > 0.9 && w["+13125550002"] < 0.2, "{w:?}");
    let rules = Rules::built_in().expect("rules");
    let profiles = super::compile(&c, &rules);
    let called = Called {
        area_code: Some("312"),
        ..Called::default()
    };
    let picks = |seed| {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut n: BTreeMap<String, u32> = BTreeMap::new();
        for _ in 0..1000 {
            let (c, _) = select::choose(&st, &profiles, &called, &mut rng).expect("pick");
            *n.entry(c.number).or_default() += 1;
        }
        n
    };
    let a = picks(42);
    assert_eq!(a, picks(42));
    assert!(a["+13125550001"] > a["+13125550003"], "{a:?}");
    assert!(a["+13125550003"] > a["+13125550002"], "{a:?}");
}

#[test]
fn a_failure_streak_cools_a_number_down_but_never_below_min_available() {
    let mut c = pool(json!({"+13125550001": {}, "+13125550002": {}}));
    let mut calls: Vec<UsedCall> = (0..5)
        .map(|i| {
            call(
                "+13125550001",
                "+13055550100",
                10 - i,
                Some(Outcome::NoAnswer),
            )
        })
        .collect();
    let (st, _) = states(&c, &calls);
    assert_eq!(st[0].usage.streak, 5);
    // The last outcome came at 15:25 (its call at −6 min, the outcome a minute later):
    // the five minutes of a streak of 5 end now.
    assert_eq!(st[0].state, State::Usable, "{:?}", st[0]);
    calls.push(call(
        "+13125550001",
        "+13055550100",
        2,
        Some(Outcome::Voicemail),
    ));
    let (st, _) = states(&c, &calls);
    assert_eq!(st[0].state, State::CoolingDown);
    assert_eq!(st[0].until, Some(at("2026-03-10T15:34:00Z")));
    assert_eq!(st[1].state, State::Usable);
    // Floor: with min_available 2 the cooling number is usable again.
    c.min_available = 2;
    let (st, _) = states(&c, &calls);
    assert_eq!(st[0].state, State::Usable);
    // Ten in a row: fifteen minutes. A pickup ends the streak.
    c.min_available = 1;
    let ten: Vec<UsedCall> = (0..10)
        .map(|i| call("+13125550001", "+13055550100", 12 - i, Some(Outcome::Busy)))
        .collect();
    let (st, _) = states(&c, &ten);
    assert_eq!(st[0].until, Some(at("2026-03-10T15:43:00Z")));
    let mut back = ten.clone();
    back.push(call(
        "+13125550001",
        "+13055550100",
        1,
        Some(Outcome::Human),
    ));
    assert_eq!(states(&c, &back).0[0].usage.streak, 0);
    // Clearing the cooldowns: outcomes before the instant do not count.
    c.cooldowns_cleared_at = Some(now());
    assert_eq!(states(&c, &ten).0[0].state, State::Usable);
}

#[test]
fn caps_per_hour_and_day_and_rest_until() {
    let c = pool(json!({
        "+13125550001": {"hourly_cap": 2},
        "+13125550002": {"daily_cap": 3},
        "+13125550003": {"rested": {"reason": "spam label", "until": "2026-03-10T16:00:00.000Z",
            "at": "2026-03-10T12:00:00.000Z", "by": "admin"}}
    }));
    let calls = vec![
        call("+13125550001", "+1", 10, None),
        call("+13125550001", "+2", 20, None),
        call("+13125550001", "+3", 40, None), // last hour: not counted
        call("+13125550002", "+1", 100, None),
        call("+13125550002", "+2", 200, None),
        call("+13125550002", "+3", 300, None),
    ];
    let (st, _) = states(&c, &calls);
    assert_eq!(
        (st[0].state, st[0].until),
        (State::HourlyCap, Some(windows().next_hour))
    );
    assert_eq!(
        (st[1].state, st[1].until),
        (State::DailyCap, Some(windows().next_day))
    );
    assert_eq!(
        (st[2].state, st[2].until),
        (State::Rested, Some(at("2026-03-10T16:00:00Z")))
    );
    let called = Called::default();
    let mut rng = StdRng::seed_from_u64(1);
    assert!(select::choose(&st, &profiles(&c), &called, &mut rng).is_none());
    match super::none_usable(&st) {
        super::Chosen::NoneUsable { why, until } => {
            assert!(
                why.contains("1 rested") && why.contains("1 at their daily cap"),
                "{why}"
            );
            assert_eq!(until, Some(windows().next_hour));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_number_answering_far_below_the_pool_is_rested_automatically() {
    let mut c = pool(json!({"+13125550001": {}, "+13125550002": {}}));
    c.auto_rest.calls = 10;
    let mut calls = Vec::new();
    for i in 0..10 {
        calls.push(call("+13125550001", "+1", 100 + i, Some(Outcome::Human)));
        let o = if i == 0 {
            Outcome::Human
        } else {
            Outcome::Voicemail
        };
        calls.push(call("+13125550002", "+1", 300 + i, Some(o)));
    }
    let (_, t) = states(&c, &calls);
    let bad = select::rest_reason(&c, &t.numbers["+13125550002"], &t).expect("rested");
    assert!(bad.contains("answered 1 of its last 10 calls"), "{bad}");
    assert_eq!(
        select::rest_reason(&c, &t.numbers["+13125550001"], &t),
        None
    );
    // Brought back: the calls before count no more.
    c.numbers.get_mut("+13125550002").expect("n").counted_from = Some(now());
    let (_, t) = states(&c, &calls);
    assert_eq!(
        select::rest_reason(&c, &t.numbers["+13125550002"], &t),
        None
    );
}

#[tokio::test]
async fn the_file_take_stops_at_the_cap_and_a_give_back_frees_the_place() {
    let calls = FileCalls::default();
    let w = windows();
    let take = |rid: &'static str| Take {
        request_id: rid,
        number: "+13125550001",
        phone: "+13055550100",
        at: now(),
        hour: w.hour,
        day: w.day,
        hourly_cap: Some(2),
        daily_cap: None,
        keep_since: now() - Duration::days(2),
    };
    assert!(calls.take(&take("a")).await.expect("take"));
    assert!(calls.take(&take("b")).await.expect("take"));
    assert!(
        !calls.take(&take("c")).await.expect("take"),
        "the cap holds"
    );
    assert!(
        calls.take(&take("b")).await.expect("take"),
        "a retry of b is b's own place"
    );
    calls.give_back("b").await.expect("give back");
    assert!(calls.take(&take("c")).await.expect("take"));
    let number = calls
        .outcome("a", Outcome::Human, now())
        .await
        .expect("outcome");
    assert_eq!(number.as_deref(), Some("+13125550001"));
    let all = calls.calls_since(now(), now()).await.expect("read");
    assert_eq!(all.len(), 2);
}
