use super::*;
use chrono_tz::America;

fn phone(n: &str) -> PhoneNumber {
    PhoneNumber::parse(n, "US").expect("phone")
}

#[test]
fn built_in_data_loads_with_every_state_and_area_code() {
    let r = Rules::built_in().expect("built-in rules");
    assert_eq!(r.area_codes(), 442);
    for code in ["AL", "CA", "DC", "TX", "WY", "PR"] {
        assert!(r.state(code).is_some(), "{code}");
    }
    assert_eq!(r.state("texas").map(|s| s.code.as_str()), Some("TX"));
    assert_eq!(r.state(" tx ").map(|s| s.code.as_str()), Some("TX"));
}

#[test]
fn places_join_state_and_area_code() {
    let r = Rules::built_in().expect("built-in rules");
    let p = r.place(Some("TX"), &phone("9155550123"));
    let codes = |p: &Place<'_>| p.states.iter().map(|s| s.code.clone()).collect::<Vec<_>>();
    assert_eq!(codes(&p), vec!["TX"]);
    assert!(p.zones.contains(&America::Chicago) && p.zones.contains(&America::Denver));
    let p = r.place(None, &phone("8505550123"));
    assert_eq!(p.zones.len(), 2, "850 spans Central and Eastern: {p:?}");
    let p = r.place(Some("CA"), &phone("3055550123"));
    assert_eq!(codes(&p), vec!["CA", "FL"]);
    let p = r.place(None, &phone("6245550123"));
    assert!(p.zones.is_empty());
    assert_eq!(
        p.notes,
        vec![
            "the lead has no state",
            "area code 624 is not in the area-code table"
        ]
    );
}

#[test]
fn overrides_must_parse() {
    let err = Rules::parse("{}", BUILT_IN_NPA).expect_err("missing fields");
    assert!(err.0.contains("missing field"), "{err}");
    let bad = BUILT_IN_RULES.replace("\"20:00\"", "\"20:99\"");
    let err = Rules::parse(&bad, BUILT_IN_NPA).expect_err("bad time");
    assert!(err.0.starts_with("states."), "{err}");
    let err = Rules::parse(BUILT_IN_RULES, "npa,state,iana_tz\n201,NJ,Mars/Base\n")
        .expect_err("bad zone");
    assert!(
        err.0.contains("line 2") && err.0.contains("Mars/Base"),
        "{err}"
    );
}
