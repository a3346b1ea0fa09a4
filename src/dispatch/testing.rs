//! What the dispatch storage roles' behaviour checks share: a fixed instant and a lead.

use chrono::{DateTime, Utc};

use crate::domain::Lead;

/// `secs` after a fixed instant (2026-05-28 20:26:40 UTC).
pub fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000 + secs, 0).unwrap_or_default()
}

/// A lead with just an id and a US number.
pub fn lead(id: &str, phone: &str) -> Lead {
    let map = serde_json::json!({"lead_id": id, "phone_number": phone});
    Lead::parse(
        map.as_object().cloned().unwrap_or_default(),
        &Default::default(),
        "US",
    )
    .expect("lead")
}
