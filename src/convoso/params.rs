//! The fields callgate sends Convoso: the status for an outcome (and whether it means
//! do-not-call), a lead update's fields, a DNC insert's fields. Pure functions of the
//! settings and the call.

use std::collections::BTreeMap;

use crate::config::convoso::{normalise_tag, ConvosoSettings};
use crate::journal::Outcome;

/// What a completion tells about the call, for the lead update.
#[derive(Debug, Clone, Default)]
pub struct CallDetails {
    pub call_id: String,
    pub duration_s: Option<f64>,
    pub answered_by: Option<String>,
    pub recording_url: Option<String>,
    pub summary: Option<String>,
    pub transcript: Option<String>,
}

/// The status to write for an outcome and its tags, and whether it means do-not-call:
/// a do-not-call tag first, then a merged transfer, then the not-interested and callback
/// tags, then the outcome itself (`human` for a human answer with no such tag).
pub fn status_for(c: &ConvosoSettings, outcome: Outcome, tags: &[String]) -> (String, bool) {
    let tags: Vec<String> = tags.iter().map(|t| normalise_tag(t)).collect();
    let has = |want: &[&str]| tags.iter().any(|t| want.contains(&t.as_str()));
    let dnc_tag = tags.iter().any(|t| c.dnc_tags.contains(t));
    let key = if dnc_tag {
        "do_not_call"
    } else if outcome == Outcome::Transferred {
        "transferred"
    } else if has(&["not_interested", "decline", "declined"]) {
        "not_interested"
    } else if has(&["callback", "call_back", "callback_requested"]) {
        "callback"
    } else {
        outcome.as_str()
    };
    let status = c.status_for(key);
    let dnc = dnc_tag
        || c.dnc_statuses
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&status));
    (status, dnc)
}

/// The `leads/update` fields for a call's outcome.
pub fn lead_update(
    c: &ConvosoSettings,
    lead_id: &str,
    list_id: Option<&str>,
    status: &str,
    call: &CallDetails,
) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    p.insert("lead_id".into(), lead_id.to_string());
    if let Some(l) = list_id {
        p.insert("list_id".into(), l.to_string());
    }
    p.insert("status".into(), status.to_string());
    p.insert("call_id".into(), call.call_id.clone());
    if let Some(d) = call.duration_s {
        p.insert("call_duration".into(), format!("{}", d.round() as i64));
    }
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            p.insert(k.to_string(), v.to_string());
        }
    };
    put("answered_by", &call.answered_by);
    put("recording_url", &call.recording_url);
    put("call_summary", &call.summary);
    let transcript = call.transcript.as_ref().map(|t| {
        if t.chars().count() > c.transcript_max_chars {
            let mut cut: String = t.chars().take(c.transcript_max_chars).collect();
            cut.push_str(" […]");
            cut
        } else {
            t.clone()
        }
    });
    put("call_transcript", &transcript);
    p
}

/// The `dnc/insert` fields for a number (E.164 `+1…`: digits without the country code).
pub fn dnc_insert(c: &ConvosoSettings, phone: &str, reason: &str) -> BTreeMap<String, String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let (code, national) = match digits.strip_prefix('1') {
        Some(rest) if phone.starts_with("+1") => ("1", rest.to_string()),
        _ => ("1", digits.clone()),
    };
    BTreeMap::from([
        ("phone_number".to_string(), national),
        ("phone_code".to_string(), code.to_string()),
        ("campaign_id".to_string(), c.dnc_campaign_id.to_string()),
        ("reason".to_string(), reason.to_string()),
    ])
}
