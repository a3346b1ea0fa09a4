//! A lead as the dialer sends it: every field kept, plus the two that are required —
//! `lead_id` and `phone_number` (E.164). Customers whose Convoso adaptor uses other names
//! configure aliases; the value found under an alias is also stored under the canonical
//! name, so checks and Bland always see `phone_number` and `lead_id`.

use serde_json::{Map, Value};

use super::phone::PhoneNumber;

/// Which incoming field names hold the lead id and the phone number, in order of preference.
#[derive(Debug, Clone)]
pub struct LeadFieldNames {
    pub phone: Vec<String>,
    pub lead_id: Vec<String>,
    /// Where the called party's state (two-letter code or name) is read from.
    pub state: Vec<String>,
}

impl Default for LeadFieldNames {
    fn default() -> Self {
        Self {
            phone: vec!["phone_number".into(), "phone".into()],
            lead_id: vec!["lead_id".into()],
            state: vec!["state".into()],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lead {
    pub lead_id: String,
    pub phone: PhoneNumber,
    /// Every field as received (strings from form bodies, any JSON from JSON bodies), with
    /// `phone_number` and `lead_id` set to the canonical values.
    pub fields: Map<String, Value>,
}

/// What a decision keeps of its lead, so that "check now" can run the pipeline on the
/// fields the checks read (`state`, `status`, a flagged field's value), not the number
/// alone: its scalar fields (strings of at most [`RECHECK_VALUE_BYTES`], numbers, booleans),
/// at most [`RECHECK_FIELDS`] of them, first come first kept. Long free text (what the
/// content screen reads) is left out: the journal line stays small.
pub const RECHECK_FIELDS: usize = 64;
pub const RECHECK_VALUE_BYTES: usize = 256;

impl Lead {
    /// The fields a decision journals for re-checking (see [`RECHECK_FIELDS`]).
    pub fn recheck_fields(&self) -> Map<String, Value> {
        self.fields
            .iter()
            .filter(|(_, v)| match v {
                Value::String(s) => s.len() <= RECHECK_VALUE_BYTES,
                Value::Number(_) | Value::Bool(_) => true,
                _ => false,
            })
            .take(RECHECK_FIELDS)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Limits on a lead's fields, so every accepted lead can be written and read back (serde's
/// reader stops at 128 levels) and no single field swamps a journal line.
pub const MAX_DEPTH: usize = 8;
pub const MAX_FIELDS: usize = 500;
pub const MAX_NAME_BYTES: usize = 256;
pub const MAX_VALUE_BYTES: usize = 65_536;

/// How deep a value nests (a scalar is 0, `[1]` is 1) and roughly how many bytes it takes,
/// stopping early once either limit is passed.
fn measure(value: &Value, depth: usize) -> (usize, usize) {
    if depth > MAX_DEPTH {
        return (depth, 0);
    }
    match value {
        Value::String(s) => (depth, s.len() + 2),
        Value::Array(items) => items.iter().fold((depth + 1, 2), |(d, n), v| {
            let (vd, vn) = measure(v, depth + 1);
            (d.max(vd), n.saturating_add(vn + 1))
        }),
        Value::Object(map) => map.iter().fold((depth + 1, 2), |(d, n), (k, v)| {
            let (vd, vn) = measure(v, depth + 1);
            (d.max(vd), n.saturating_add(k.len() + vn + 4))
        }),
        _ => (depth, 24),
    }
}

/// Every field that breaks a limit, named.
fn limits(fields: &Map<String, Value>) -> Vec<String> {
    let mut errors = Vec::new();
    if fields.len() > MAX_FIELDS {
        errors.push(format!(
            "the lead has {} fields; at most {MAX_FIELDS}",
            fields.len()
        ));
    }
    for (name, value) in fields {
        let shown: String = name.chars().take(64).collect();
        if name.len() > MAX_NAME_BYTES {
            errors.push(format!(
                "field name `{shown}…` is longer than {MAX_NAME_BYTES} bytes"
            ));
            continue;
        }
        let (depth, bytes) = measure(value, 0);
        if depth > MAX_DEPTH {
            errors.push(format!("`{shown}` nests deeper than {MAX_DEPTH} levels"));
        } else if bytes > MAX_VALUE_BYTES {
            errors.push(format!("`{shown}` is larger than {MAX_VALUE_BYTES} bytes"));
        }
    }
    errors
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Lead {
    /// Checks a webhook body; every problem is listed.
    pub fn parse(
        mut fields: Map<String, Value>,
        names: &LeadFieldNames,
        country: &str,
    ) -> Result<Self, Vec<String>> {
        let mut errors = limits(&fields);
        let first = |list: &[String]| {
            list.iter()
                .find_map(|n| fields.get(n).map(|v| (n.clone(), v.clone())))
        };
        let phone = match first(&names.phone) {
            None => {
                errors.push(format!("`{}` is required", names.phone.join("` or `")));
                None
            }
            Some((name, value)) => match text(&value) {
                None => {
                    errors.push(format!("`{name}` must be a non-empty string"));
                    None
                }
                Some(raw) => match PhoneNumber::parse(&raw, country) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        errors.push(format!("`{name}`: {e}"));
                        None
                    }
                },
            },
        };
        let lead_id = match first(&names.lead_id) {
            None => {
                errors.push(format!("`{}` is required", names.lead_id.join("` or `")));
                None
            }
            Some((name, value)) => {
                let id = text(&value);
                if id.is_none() {
                    errors.push(format!("`{name}` must be a non-empty string or number"));
                }
                id
            }
        };
        match (phone, lead_id) {
            (Some(phone), Some(lead_id)) if errors.is_empty() => {
                fields.insert(
                    "phone_number".into(),
                    Value::String(phone.as_str().to_string()),
                );
                fields.insert("lead_id".into(), Value::String(lead_id.clone()));
                Ok(Self {
                    lead_id,
                    phone,
                    fields,
                })
            }
            _ => Err(errors),
        }
    }

    /// Fills `{{field}}` placeholders with this lead's values; unknown ones are left as
    /// written.
    pub fn fill(&self, template: &str) -> String {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            match after.find("}}") {
                Some(end) => {
                    match self.field(after[..end].trim()) {
                        Some(v) => out.push_str(&v),
                        None => out.push_str(&rest[start..start + 2 + end + 2]),
                    }
                    rest = &after[end + 2..];
                }
                None => {
                    out.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// A field's value as text (strings as they are, numbers printed).
    pub fn field(&self, name: &str) -> Option<String> {
        self.fields.get(name).and_then(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Lead, Vec<String>> {
        Lead::parse(
            v.as_object().cloned().unwrap_or_default(),
            &LeadFieldNames::default(),
            "US",
        )
    }

    #[test]
    fn a_valid_lead_keeps_every_field_and_normalises_the_phone() {
        let lead = parse(json!({"phone": "(305) 555-1234", "lead_id": 42, "first_name": "Ada", "notes": {"x": 1}}))
            .expect("valid");
        assert_eq!(lead.lead_id, "42");
        assert_eq!(lead.phone.as_str(), "+13055551234");
        assert_eq!(lead.fields["phone_number"], "+13055551234");
        assert_eq!(lead.fields["first_name"], "Ada");
        assert_eq!(lead.fields["notes"], json!({"x": 1}));
    }

    #[test]
    fn every_problem_is_listed() {
        let errors = parse(json!({"first_name": "x"})).expect_err("invalid");
        assert_eq!(errors.len(), 2, "{errors:?}");
        let errors = parse(json!({"phone_number": "12", "lead_id": ""})).expect_err("invalid");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("phone_number"));
    }

    #[test]
    fn aliases_are_configurable() {
        let names = LeadFieldNames {
            phone: vec!["Phone".into()],
            lead_id: vec!["LeadID".into()],
            state: vec![],
        };
        let map = json!({"Phone": "3055551234", "LeadID": "9"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let lead = Lead::parse(map, &names, "US").expect("valid");
        assert_eq!(lead.fields["lead_id"], "9");
        assert_eq!(lead.fields["phone_number"], "+13055551234");
    }
}
