//! A blocklist flag, its on-disk/JSON form, and how fields and values are normalised so
//! that one number or address written several ways is one flag.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::clock::format_millis;
use crate::domain::PhoneNumber;

/// The canonical name of the phone field (`phone_number` is an alias of it).
pub const PHONE: &str = "phone";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    #[error("`field` is required")]
    MissingField,
    #[error("`value` is required")]
    MissingValue,
    #[error("invalid phone value: {0}")]
    Phone(#[from] crate::domain::phone::PhoneError),
    #[error("`{field}` is not an RFC 3339 timestamp: `{value}`")]
    Timestamp { field: &'static str, value: String },
    #[error("`value` must be a string or a number")]
    ValueType,
    #[error("`{field}` is longer than {max} bytes")]
    TooLong { field: &'static str, max: usize },
}

/// Limits on a flag's parts (a flag is held in memory and written to every compaction).
pub const MAX_FIELD_BYTES: usize = 64;
pub const MAX_VALUE_BYTES: usize = 1024;
pub const MAX_REASON_BYTES: usize = 2048;
pub const MAX_ADDED_BY_BYTES: usize = 256;
pub const MAX_ID_BYTES: usize = 128;

fn check_len(field: &'static str, value: Option<&str>, max: usize) -> Result<(), FlagError> {
    match value {
        Some(v) if v.len() > max => Err(FlagError::TooLong { field, max }),
        _ => Ok(()),
    }
}

/// One flag. Timestamps are milliseconds since the epoch; strings are boxed to keep a
/// million flags small: the id and the value share one allocation ([`Flag::id`],
/// [`Flag::value`]), so a flag costs one string of its own, not two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The id, then the normalised value.
    key: Box<str>,
    /// Where the id ends in `key`.
    id_len: u32,
    pub field: Arc<str>,
    /// Shared with every flag of the same reason (bulk lists repeat them).
    pub reason: Option<Arc<str>>,
    pub added_by: Option<Arc<str>>,
    pub added_at: i64,
    pub expires_at: Option<i64>,
    pub updated_at: Option<i64>,
    /// Insertion order, so flags added in the same millisecond keep their order. Not stored.
    pub seq: u64,
}

impl Flag {
    /// A flag with no reason, author, expiry or update.
    pub fn new(id: &str, field: Arc<str>, value: &str, added_at: i64) -> Self {
        Self {
            key: Self::join(id, value),
            id_len: id.len() as u32,
            field,
            reason: None,
            added_by: None,
            added_at,
            expires_at: None,
            updated_at: None,
            seq: 0,
        }
    }

    fn join(id: &str, value: &str) -> Box<str> {
        let mut key = String::with_capacity(id.len() + value.len());
        key.push_str(id);
        key.push_str(value);
        key.into_boxed_str()
    }

    pub fn id(&self) -> &str {
        self.key.get(..self.id_len as usize).unwrap_or_default()
    }

    /// The normalised value matched against leads.
    pub fn value(&self) -> &str {
        self.key.get(self.id_len as usize..).unwrap_or_default()
    }

    pub fn set_value(&mut self, value: &str) {
        self.key = Self::join(self.id(), value);
    }

    pub fn set_id(&mut self, id: &str) {
        self.key = Self::join(id, self.value());
        self.id_len = id.len() as u32;
    }

    /// The order flags are listed and written in: oldest first, then as inserted.
    pub fn age_key(&self) -> (i64, u64) {
        (self.added_at, self.seq)
    }

    /// Live flags match; a flag whose `expires_at` has passed never does.
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.expires_at.is_none_or(|at| at > now_ms)
    }
}

impl Serialize for Flag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", self.id())?;
        map.serialize_entry("field", &*self.field)?;
        map.serialize_entry("value", self.value())?;
        map.serialize_entry("reason", &self.reason.as_deref())?;
        map.serialize_entry("added_at", &format_millis(self.added_at))?;
        if let Some(by) = &self.added_by {
            map.serialize_entry("added_by", &**by)?;
        }
        if let Some(at) = self.expires_at {
            map.serialize_entry("expires_at", &format_millis(at))?;
        }
        if let Some(at) = self.updated_at {
            map.serialize_entry("updated_at", &format_millis(at))?;
        }
        map.end()
    }
}

/// A flag as written by a person or another program: every part optional until checked.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FlagRecord {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub added_by: Option<String>,
    #[serde(default)]
    pub added_at: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// `phone_number` → `phone`; other names are kept as written (trimmed).
pub fn canonical_field(field: &str) -> &str {
    match field.trim() {
        "phone_number" => PHONE,
        other => other,
    }
}

/// The string form of a lead or flag value: strings as they are, numbers and booleans
/// printed; anything else has no string form.
pub fn value_string(value: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match value {
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(std::borrow::Cow::Borrowed(if *b {
            "true"
        } else {
            "false"
        })),
        _ => None,
    }
}

/// The value as it is stored and compared for `field` (already canonical).
pub fn normalize_value(field: &str, raw: &str, country: &str) -> Result<String, FlagError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(FlagError::MissingValue);
    }
    Ok(match field {
        PHONE => PhoneNumber::parse(trimmed, country)?.as_str().to_string(),
        "email" => trimmed.to_lowercase(),
        _ => trimmed.to_string(),
    })
}

pub fn parse_time(field: &'static str, value: &str) -> Result<i64, FlagError> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
        .map_err(|_| FlagError::Timestamp {
            field,
            value: value.to_string(),
        })
}

fn optional_time(field: &'static str, value: &Option<String>) -> Result<Option<i64>, FlagError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => parse_time(field, v).map(Some),
    }
}

fn optional_text(value: Option<String>) -> Option<Arc<str>> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .map(Arc::from)
}

impl FlagRecord {
    /// Checks and normalises a record. `id` is kept if present, else `new_id` is used;
    /// a missing `added_at` becomes `now_ms`.
    pub fn into_flag(
        self,
        country: &str,
        now_ms: i64,
        new_id: impl FnOnce() -> String,
    ) -> Result<Flag, FlagError> {
        let field = self.field.as_deref().map(canonical_field).unwrap_or("");
        if field.is_empty() {
            return Err(FlagError::MissingField);
        }
        let raw = match &self.value {
            None | Some(Value::Null) => return Err(FlagError::MissingValue),
            Some(v) => value_string(v).ok_or(FlagError::ValueType)?,
        };
        check_len("field", Some(field), MAX_FIELD_BYTES)?;
        check_len("value", Some(&raw), MAX_VALUE_BYTES)?;
        check_len("reason", self.reason.as_deref(), MAX_REASON_BYTES)?;
        check_len("added_by", self.added_by.as_deref(), MAX_ADDED_BY_BYTES)?;
        check_len("id", self.id.as_deref(), MAX_ID_BYTES)?;
        let value = normalize_value(field, &raw, country)?;
        let added_at = optional_time("added_at", &self.added_at)?.unwrap_or(now_ms);
        let expires_at = optional_time("expires_at", &self.expires_at)?;
        let updated_at = optional_time("updated_at", &self.updated_at)?;
        let id = self
            .id
            .map(|i| i.trim().to_string())
            .filter(|i| !i.is_empty())
            .unwrap_or_else(new_id);
        Ok(Flag {
            key: Flag::join(&id, &value),
            id_len: id.len() as u32,
            field: Arc::from(field),
            reason: optional_text(self.reason),
            added_by: optional_text(self.added_by),
            added_at,
            expires_at,
            updated_at,
            seq: 0,
        })
    }
}

/// A new id in the seed's form: `flag_<unix ms>_<9 base-36 characters>`.
pub fn new_flag_id(now_ms: i64) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    let suffix: String = (0..9)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("flag_{now_ms}_{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(v: Value) -> FlagRecord {
        serde_json::from_value(v).expect("record")
    }

    /// The id and the value share one string: changing one keeps the other.
    #[test]
    fn id_and_value_are_kept_apart_in_their_shared_string() {
        let mut flag = Flag::new("flag_1", Arc::from("email"), "ada@example.org", 5);
        assert_eq!((flag.id(), flag.value()), ("flag_1", "ada@example.org"));
        flag.set_value("é@example.org");
        assert_eq!((flag.id(), flag.value()), ("flag_1", "é@example.org"));
        flag.set_id("flag_1700000000000_abcdefghi");
        assert_eq!(flag.id(), "flag_1700000000000_abcdefghi");
        assert_eq!(flag.value(), "é@example.org");
        let json = serde_json::to_value(&flag).expect("json");
        assert_eq!(json["id"], "flag_1700000000000_abcdefghi");
        assert_eq!(json["value"], "é@example.org");
    }

    #[test]
    fn phone_number_field_is_stored_as_phone_in_e164() {
        let flag = record(json!({"field": "phone_number", "value": "(305) 555-1234"}))
            .into_flag("US", 1, || "id".into())
            .expect("valid");
        assert_eq!(&*flag.field, "phone");
        assert_eq!(flag.value(), "+13055551234");
        assert_eq!(flag.added_at, 1);
    }

    #[test]
    fn emails_lowercase_and_numbers_stringify() {
        let flag = record(json!({"field": "email", "value": "  Test@Example.COM "}))
            .into_flag("US", 1, || "id".into())
            .expect("valid");
        assert_eq!(flag.value(), "test@example.com");
        let flag = record(json!({"field": "lead_id", "value": 12345}))
            .into_flag("US", 1, || "id".into())
            .expect("valid");
        assert_eq!(flag.value(), "12345");
    }

    #[test]
    fn missing_and_bad_parts_are_named() {
        let err = |v| {
            record(v)
                .into_flag("US", 1, || "id".into())
                .expect_err("invalid")
        };
        assert_eq!(err(json!({"value": "1"})), FlagError::MissingField);
        assert_eq!(err(json!({"field": "x"})), FlagError::MissingValue);
        assert_eq!(
            err(json!({"field": "x", "value": "  "})),
            FlagError::MissingValue
        );
        assert!(matches!(
            err(json!({"field": "phone", "value": "123"})),
            FlagError::Phone(_)
        ));
        assert!(matches!(
            err(json!({"field": "x", "value": "1", "expires_at": "tomorrow"})),
            FlagError::Timestamp {
                field: "expires_at",
                ..
            }
        ));
    }

    #[test]
    fn new_ids_have_the_seed_form() {
        let id = new_flag_id(1735084012345);
        assert!(id.starts_with("flag_1735084012345_"));
        assert_eq!(id.len(), "flag_1735084012345_".len() + 9);
    }

    #[test]
    fn serialises_in_the_seed_shape() {
        let flag = record(
            json!({"id": "flag_1", "field": "phone", "value": "3055551234",
            "reason": "r", "added_at": "2024-12-24T15:30:00.000Z"}),
        )
        .into_flag("US", 0, || unreachable!())
        .expect("valid");
        assert_eq!(
            serde_json::to_value(&flag).expect("json"),
            json!({"id": "flag_1", "field": "phone", "value": "+13055551234", "reason": "r",
                   "added_at": "2024-12-24T15:30:00.000Z"})
        );
    }
}
