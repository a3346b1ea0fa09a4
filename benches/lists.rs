//! Do-not-call number sets (issue 14 targets at 2.5·10^8 numbers: ≤ 1 byte per number,
//! lookup ≤ 100 ns median). Registry-like data: numbers clustered in area code + exchange
//! blocks of 10,000, 40 % of each block registered. Prints, per size, the time to build the
//! set from a file's text, its bytes per number, and the snapshot's write and read time;
//! then times lookups of registered and unregistered numbers.
//! Run: `cargo bench --bench lists`

use std::hint::black_box;
use std::time::Instant;

use callgate::lists::{parse, NumberSet};
use criterion::Criterion;

/// `n` registry-like numbers as the FTC full-list text, one per line.
fn registry_text(n: u64) -> String {
    let mut out = String::with_capacity(n as usize * 11);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut written = 0;
    let mut block = 0u64;
    while written < n {
        let npa = 201 + (block / 800) % 790;
        let nxx = 200 + block % 800;
        for line in 0..10_000u64 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            if (state >> 33) % 100 < 40 {
                out.push_str(&format!("{npa}{nxx}{line:04}\n"));
                written += 1;
                if written == n {
                    break;
                }
            }
        }
        block += 1;
    }
    out
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    for n in [1_000_000u64, 10_000_000] {
        let text = registry_text(n);
        let t0 = Instant::now();
        let (set, report) = parse::read_list(text.as_bytes(), false).expect("loads");
        let built = t0.elapsed();
        let mut snapshot = Vec::new();
        let t1 = Instant::now();
        set.write_to(&mut snapshot).expect("write");
        let wrote = t1.elapsed();
        let t2 = Instant::now();
        let back = NumberSet::read_from(snapshot.as_slice()).expect("read");
        let read = t2.elapsed();
        assert_eq!(back.len(), report.entries);
        println!(
            "{n} numbers: built from text in {:.2} s ({:.0} ns/line), {:.3} bytes/number, snapshot {} MB written in {} ms, read in {} ms",
            built.as_secs_f64(),
            built.as_nanos() as f64 / n as f64,
            set.size_bytes() as f64 / set.len() as f64,
            snapshot.len() / 1_000_000,
            wrote.as_millis(),
            read.as_millis()
        );
        let hits: Vec<u64> = text
            .lines()
            .step_by(997)
            .filter_map(|l| l.parse().ok())
            .collect();
        // Area code 999 holds no generated number.
        let misses: Vec<u64> = hits
            .iter()
            .map(|h| 9_990_000_000 + h % 10_000_000)
            .collect();
        let mut i = 0;
        c.bench_function(&format!("lists/lookup hit ({n})"), |b| {
            b.iter(|| {
                i = (i + 1) % hits.len();
                black_box(set.lookup(black_box(hits[i])))
            })
        });
        c.bench_function(&format!("lists/lookup miss ({n})"), |b| {
            b.iter(|| {
                i = (i + 1) % misses.len();
                black_box(set.lookup(black_box(misses[i])))
            })
        });
    }
    c.final_summary();
}
