//! The Node number pool's `number-pool/performance.json` (each number's calls with their
//! outcomes) and `number-pool/lead-mappings.json` (the number that last reached each
//! lead), merged into the document [`imported::FILE`] the caller-ID pool reads at startup
//! (see [`crate::dispatch::callerid::imported`]). Numbers are normalised to E.164 (Node
//! recorded the payload's raw phone); Node's outcomes become ours — `TRANSFERRED` is a
//! transfer, `SALE`, `CALLBACK`, `NOT_INTERESTED` and `CONFUSED` a person (Node counted
//! all five as pickups), `VOICEMAIL`, `NO_ANSWER`, `BUSY`, `FAILED` as named. A call is
//! known by its number, instant and phone, so a re-run adds nothing twice; a mapping is
//! kept when it is newer than the one already imported.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{text, Report};
use crate::config::Settings;
use crate::dispatch::callerid::imported::{self, Imported, ImportedCall, Reached};
use crate::domain::PhoneNumber;
use crate::journal::Outcome;
use crate::store::doc_store::{DocumentStore, FileDocuments, Written};

/// Node's outcome names as ours (`None`: a name Node never wrote).
fn outcome(name: &str) -> Option<Outcome> {
    Some(match name.trim().to_ascii_uppercase().as_str() {
        "TRANSFERRED" => Outcome::Transferred,
        "SALE" | "CALLBACK" | "NOT_INTERESTED" | "CONFUSED" => Outcome::Human,
        "VOICEMAIL" => Outcome::Voicemail,
        "NO_ANSWER" => Outcome::NoAnswer,
        "BUSY" => Outcome::Busy,
        "FAILED" => Outcome::Failed,
        _ => return None,
    })
}

/// An ISO 8601 instant or Unix milliseconds.
fn instant(v: Option<&Value>) -> Option<DateTime<Utc>> {
    match v? {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Value::Number(n) => n.as_i64().and_then(DateTime::from_timestamp_millis),
        _ => None,
    }
}

fn e164(v: Option<&Value>, country: &str) -> Option<String> {
    let raw = text(v)?;
    PhoneNumber::parse(&raw, country)
        .ok()
        .map(|p| p.as_str().to_string())
}

fn read_array(path: &Path) -> anyhow::Result<Option<Vec<Value>>> {
    if !path.exists() {
        return Ok(None);
    }
    let bytes = std::fs::read(path)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Array(items)) => Ok(Some(items)),
        Ok(_) => anyhow::bail!("{}: not a JSON array", path.display()),
        Err(e) => anyhow::bail!("{}: not valid JSON: {e}", path.display()),
    }
}

/// `performance.json`'s calls; the count of records that could not be read.
fn calls(items: &[Value], country: &str) -> (Vec<ImportedCall>, usize) {
    let (mut out, mut invalid) = (Vec::new(), 0);
    for item in items {
        let Some(number) = e164(item.get("number"), country) else {
            invalid += item
                .get("calls")
                .and_then(Value::as_array)
                .map_or(1, Vec::len);
            continue;
        };
        for call in item
            .get("calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let at = instant(call.get("timestamp"));
            let phone = e164(call.get("phone_number"), country);
            let name = text(call.get("outcome"));
            let o = name.as_deref().and_then(outcome);
            let (Some(at), Some(phone), Some(o)) = (at, phone, o) else {
                invalid += 1;
                continue;
            };
            out.push(ImportedCall {
                id: format!("node-pool:{number}:{}:{phone}", at.timestamp_millis()),
                number: number.clone(),
                phone,
                at,
                outcome: Some(o),
            });
        }
    }
    (out, invalid)
}

/// `lead-mappings.json`'s last reaching numbers (the newest per lead's phone).
fn mappings(items: &[Value], country: &str) -> (Imported, usize) {
    let (mut out, mut invalid) = (Imported::default(), 0);
    for item in items {
        let from = e164(item.get("last_successful_from"), country);
        let phone = e164(item.get("phone_number"), country);
        let at = instant(item.get("last_call_at"));
        match (from, phone, at) {
            (Some(number), Some(phone), Some(at)) => {
                out.merge(Imported {
                    calls: Vec::new(),
                    reached: [(phone, Reached { number, at })].into(),
                });
            }
            // A mapping no call ever answered has nothing to carry.
            (None, _, _) if item.get("last_successful_from").is_none_or(Value::is_null) => {}
            _ => invalid += 1,
        }
    }
    (out, invalid)
}

/// Imports `from/number-pool/*.json` when they exist.
pub(super) async fn import(
    settings: &Settings,
    from: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let dir = from.join("number-pool");
    let country = &settings.default_country;
    let performance = read_array(&dir.join("performance.json"))?;
    let leads = read_array(&dir.join("lead-mappings.json"))?;
    if performance.is_none() && leads.is_none() {
        return Ok(());
    }
    let (calls, bad_calls) = calls(performance.as_deref().unwrap_or_default(), country);
    let (mut new, bad_mappings) = mappings(leads.as_deref().unwrap_or_default(), country);
    new.calls = calls;
    let docs = FileDocuments::new(&settings.data_dir);
    let stored = docs.read(imported::FILE).await?;
    let (mut doc, version) = match stored {
        Some(s) => (
            serde_json::from_value::<Imported>(s.body)
                .map_err(|e| anyhow::anyhow!("{}: {e}", docs.describe(imported::FILE)))?,
            s.version,
        ),
        None => (Imported::default(), 0),
    };
    let merged = doc.merge(new);
    let body = serde_json::to_value(&doc)?;
    anyhow::ensure!(
        matches!(
            docs.write(imported::FILE, &body, version).await?,
            Written::Done(_)
        ),
        "{}: changed while it was written",
        docs.describe(imported::FILE)
    );
    report.pool = Some(super::PoolReport {
        calls_added: merged.calls_added,
        calls_already: merged.calls_already,
        calls_invalid: bad_calls,
        mappings_added: merged.mappings_added,
        mappings_invalid: bad_mappings,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn node_records_become_e164_calls_with_our_outcomes() {
        let items = vec![
            json!({"number": "+13125550123", "cooldown_until": null, "calls": [
                {"timestamp": "2026-12-05T15:00:00.000Z", "outcome": "SALE", "phone_number": "3125550199", "lead_id": "L1"},
                {"timestamp": 1796486400000i64, "outcome": "VOICEMAIL", "phone_number": "+13125550198", "lead_id": "L2"},
                {"timestamp": "2026-12-05T16:00:00.000Z", "outcome": "MAYBE", "phone_number": "3125550199"}
            ]}),
            json!({"number": "12", "calls": [{}, {}]}),
        ];
        let (calls, invalid) = calls(&items, "US");
        assert_eq!(
            invalid, 3,
            "the unknown outcome and the two calls of a bad number"
        );
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].phone, "+13125550199");
        assert_eq!(calls[0].outcome, Some(Outcome::Human));
        assert_eq!(calls[1].outcome, Some(Outcome::Voicemail));
        assert_eq!(calls[1].at.timestamp_millis(), 1_796_486_400_000);
        assert_eq!(
            calls[0].id,
            "node-pool:+13125550123:1796482800000:+13125550199"
        );
    }

    #[test]
    fn the_newest_mapping_of_a_lead_wins_and_unanswered_ones_are_not_errors() {
        let items = vec![
            json!({"lead_id": "L1", "phone_number": "3125550199", "last_successful_from": "+13125550123", "last_call_at": "2026-12-01T10:00:00Z"}),
            json!({"lead_id": "L1b", "phone_number": "+13125550199", "last_successful_from": "3125550124", "last_call_at": "2026-12-03T10:00:00Z"}),
            json!({"lead_id": "L2", "phone_number": "3125550198", "last_successful_from": null, "last_call_at": "2026-12-03T10:00:00Z"}),
            json!({"lead_id": "L3", "phone_number": "x", "last_successful_from": "+13125550123", "last_call_at": "2026-12-03T10:00:00Z"}),
        ];
        let (m, invalid) = mappings(&items, "US");
        assert_eq!(invalid, 1);
        assert_eq!(m.reached.len(), 1);
        assert_eq!(m.reached["+13125550199"].number, "+13125550124");
    }
}
