//! Choosing a caller id in a pool of 1,000 numbers with 100 calls each in the rolling
//! window (100k calls, a third of them answered): the choice alone over the numbers'
//! states, and the whole of what the dispatcher does per call before its take (tally the
//! window, every number's state, the choice).
//! Run: `cargo bench --bench caller_ids`

use std::hint::black_box;

use callgate::dispatch::callerid::config::PoolConfig;
use callgate::dispatch::callerid::select::{self, Called, UsedCall, Windows};
use callgate::journal::Outcome;
use callgate::schedule::rules::Rules;
use chrono::{DateTime, Duration, Utc};
use criterion::Criterion;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Map, Value};

const AREA_CODES: [&str; 10] = [
    "212", "305", "312", "415", "512", "602", "704", "808", "907", "971",
];

fn now() -> DateTime<Utc> {
    "2026-03-10T15:30:00Z".parse().expect("instant")
}

fn pool() -> PoolConfig {
    let mut numbers = Map::new();
    for i in 0..1000 {
        let npa = AREA_CODES[i % AREA_CODES.len()];
        numbers.insert(format!("+1{npa}555{i:04}"), json!({"hourly_cap": 20}));
    }
    let mut doc = serde_json::to_value(PoolConfig::default()).expect("doc");
    doc["numbers"] = Value::Object(numbers);
    PoolConfig::parse(&doc).expect("pool")
}

fn calls(c: &PoolConfig) -> Vec<UsedCall> {
    let mut out = Vec::new();
    for (k, number) in c.numbers.keys().enumerate() {
        for j in 0..100i64 {
            let at = now() - Duration::minutes((j * 28 + k as i64) % (47 * 60));
            let outcome = match (j + k as i64) % 3 {
                0 => Outcome::Human,
                1 => Outcome::Voicemail,
                _ => Outcome::NoAnswer,
            };
            out.push(UsedCall {
                request_id: format!("req_{k}_{j}"),
                number: number.clone(),
                phone: format!("+1305555{:04}", j),
                at,
                outcome: Some((outcome, at + Duration::minutes(1))),
            });
        }
    }
    out
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let rules = Rules::built_in().expect("rules");
    let cfg = pool();
    let profiles = callgate::dispatch::callerid::compile(&cfg, &rules);
    let used = calls(&cfg);
    let w = Windows {
        hour: "2026-03-10T15:00:00Z".parse().expect("instant"),
        next_hour: "2026-03-10T16:00:00Z".parse().expect("instant"),
        day: "2026-03-10T04:00:00Z".parse().expect("instant"),
        next_day: "2026-03-11T04:00:00Z".parse().expect("instant"),
    };
    let place = rules.area_code("786");
    let called = Called {
        area_code: Some("786"),
        state: place.map(|(s, _)| s),
        zones: place.map_or(&[], |(_, z)| z),
        sticky: None,
    };
    let mut rng = StdRng::seed_from_u64(7);
    let tally = select::tally(&cfg, &used, &w, now());
    let st = select::statuses(&cfg, &tally, &w, now());
    c.bench_function("caller_id_choose_1000_numbers", |b| {
        b.iter(|| black_box(select::choose(&st, &profiles, black_box(&called), &mut rng)))
    });
    c.bench_function(
        "caller_id_tally_states_choose_1000_numbers_100k_calls",
        |b| {
            b.iter(|| {
                let t = select::tally(&cfg, black_box(&used), &w, now());
                let st = select::statuses(&cfg, &t, &w, now());
                black_box(select::choose(&st, &profiles, &called, &mut rng))
            })
        },
    );
    c.final_summary();
}
