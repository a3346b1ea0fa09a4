//! Matching a 12-field lead against large flag sets (issue target: ≤ 1 µs at 1M flags).
//! Run: `cargo bench --bench blocklist`

use std::hint::black_box;
use std::sync::Arc;

use callgate::blocklist::{Flag, FlagIndex};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use serde_json::{json, Map, Value};

fn flag(n: u64, field: &str, value: String) -> Flag {
    let mut flag = Flag::new(
        &format!("flag_1735084012345_{n:09}"),
        Arc::from(field),
        &value,
        1_735_084_012_345 + n as i64,
    );
    flag.reason = Some("Customer requested no contact".into());
    flag.added_by = Some("admin".into());
    flag
}

/// `n` flags: 80 % phone numbers, 10 % lead ids, 10 % emails.
pub fn build(n: u64) -> FlagIndex {
    let mut index = FlagIndex::new(true);
    for i in 0..n {
        let f = match i % 10 {
            0 => flag(i, "lead_id", format!("{}", 1_000_000 + i)),
            1 => flag(i, "email", format!("user{i}@example.com")),
            _ => flag(i, "phone", format!("+1{}", 2_000_000_000 + i)),
        };
        index.insert(f);
    }
    index
}

fn lead(phone: &str) -> Map<String, Value> {
    json!({
        "phone_number": phone, "lead_id": "98765432", "list_id": "1001",
        "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org",
        "state": "FL", "postal_code": "33101", "status": "NEW", "city": "Miami",
        "address1": "1 Main St", "source": "web"
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn matching(c: &mut Criterion) {
    let mut group = c.benchmark_group("match_lead_12_fields");
    for n in [100_000u64, 1_000_000] {
        let index = build(n);
        let miss = lead("(305) 555-1234");
        let hit = lead(&format!("+1{}", 2_000_000_000 + n / 2 + 2));
        assert!(index.match_lead(&miss, "US", 0).is_none());
        assert!(index.match_lead(&hit, "US", 0).is_some());
        group.bench_with_input(BenchmarkId::new("no_match", n), &miss, |b, l| {
            b.iter(|| index.match_lead(black_box(l), "US", 0))
        });
        group.bench_with_input(BenchmarkId::new("phone_match", n), &hit, |b, l| {
            b.iter(|| index.match_lead(black_box(l), "US", 0))
        });
    }
    group.finish();
}

criterion_group!(benches, matching);
criterion_main!(benches);
