//! Every row of `tests/data/phone_spellings.csv`, generated with libphonenumber's Python
//! port (`scripts/gen_phone_spellings.py`): we give the same E.164, or refuse where it
//! finds no possible number. Never another number.

use super::PhoneNumber;

#[test]
fn every_spelling_agrees_with_libphonenumber() {
    let table = include_str!("../../../tests/data/phone_spellings.csv");
    let (mut same, mut problems) = (0, Vec::new());
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let [_, _, _, default, spelling, e164] = cols[..] else {
            panic!("bad row {line}");
        };
        match PhoneNumber::parse(spelling, default) {
            Ok(p) if p.as_str() == e164 => same += 1,
            Err(_) if e164.is_empty() => same += 1,
            Ok(p) => problems.push(format!("{spelling} ({default}) -> {p}, expected {e164}")),
            Err(e) => problems.push(format!("{spelling} ({default}) refused: {e}")),
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} rows differ:\n{}",
        problems.len(),
        same + problems.len(),
        problems.join("\n")
    );
    assert!(same > 1800, "only {same} rows read");
}
