//! Bulk import and export formats. Import takes a JSON array of flags (or an exported
//! `{enabled, flags}` document) or CSV: `field,value,reason[,added_by,expires_at]` with a
//! header row, or bare phone numbers one per line. Every bad line is reported with its line
//! number; the good ones are imported.

use serde::Serialize;
use serde_json::Value;

use super::flag::{Flag, FlagRecord};
use crate::clock::format_millis;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InvalidLine {
    pub line: usize,
    pub value: String,
    pub error: String,
}

#[derive(Debug, Default)]
pub struct Parsed {
    pub records: Vec<FlagRecord>,
    pub invalid: Vec<InvalidLine>,
}

impl Parsed {
    /// Moves records that would not make a valid flag into `invalid`.
    pub fn validate(mut self, country: &str, lines: &[usize]) -> Self {
        let mut kept = Vec::with_capacity(self.records.len());
        for (record, line) in self.records.into_iter().zip(lines.iter().copied()) {
            match record.clone().into_flag(country, 0, || "check".into()) {
                Ok(_) => kept.push(record),
                Err(e) => self.invalid.push(InvalidLine {
                    line,
                    value: record.value.as_ref().map(value_text).unwrap_or_default(),
                    error: e.to_string(),
                }),
            }
        }
        self.records = kept;
        self.invalid.sort_by_key(|i| i.line);
        self
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Why a JSON upload is not a list of flags at all (a bad flag in it is an invalid line).
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("malformed JSON: {0}")]
    Malformed(#[source] serde_json::Error),
    #[error("expected a JSON array of flags or an object with a `flags` array")]
    NoFlags,
    #[error("expected a JSON array of flags")]
    NotArray,
}

/// A JSON array of flags, or a `{"flags": [...]}` document. Line numbers are item numbers.
pub fn parse_json(bytes: &[u8], country: &str) -> Result<Parsed, JsonError> {
    let value: Value = serde_json::from_slice(bytes).map_err(JsonError::Malformed)?;
    let items = match value {
        Value::Array(items) => items,
        Value::Object(mut doc) => match doc.remove("flags") {
            Some(Value::Array(items)) => items,
            _ => return Err(JsonError::NoFlags),
        },
        _ => return Err(JsonError::NotArray),
    };
    let mut parsed = Parsed::default();
    let mut lines = Vec::new();
    for (n, item) in items.into_iter().enumerate() {
        let shown = item.get("value").map(value_text).unwrap_or_default();
        match serde_json::from_value::<FlagRecord>(item) {
            Ok(record) => {
                parsed.records.push(record);
                lines.push(n + 1);
            }
            Err(e) => parsed.invalid.push(InvalidLine {
                line: n + 1,
                value: shown,
                error: e.to_string(),
            }),
        }
    }
    Ok(parsed.validate(country, &lines))
}

/// CSV with a header row naming `value` (and usually `field`, `reason`), or headerless
/// rows: one column = a phone number, several = `field,value,reason`.
pub fn parse_csv(bytes: &[u8], country: &str) -> Parsed {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(bytes);
    let mut parsed = Parsed::default();
    let mut lines = Vec::new();
    let mut columns: Option<Vec<String>> = None;
    for (n, row) in reader.records().enumerate() {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(n + 1, |p| p.line() as usize);
                parsed.invalid.push(InvalidLine {
                    line,
                    value: String::new(),
                    error: e.to_string(),
                });
                continue;
            }
        };
        let line = row.position().map_or(n + 1, |p| p.line() as usize);
        if row.iter().all(str::is_empty) {
            continue;
        }
        if n == 0 && row.iter().any(|c| c.eq_ignore_ascii_case("value")) {
            columns = Some(row.iter().map(str::to_ascii_lowercase).collect());
            continue;
        }
        let cell = |name: &str, position: usize| -> Option<String> {
            let at = match &columns {
                Some(cols) => cols.iter().position(|c| c == name)?,
                None => position,
            };
            row.get(at).map(str::to_string).filter(|s| !s.is_empty())
        };
        let record = if columns.is_none() && row.len() == 1 {
            FlagRecord {
                field: Some("phone".into()),
                value: row.get(0).map(|v| Value::String(v.into())),
                ..Default::default()
            }
        } else {
            FlagRecord {
                field: cell("field", 0).or_else(|| columns.as_ref().map(|_| "phone".to_string())),
                value: cell("value", 1).map(Value::String),
                reason: cell("reason", 2),
                added_by: cell("added_by", 3),
                expires_at: cell("expires_at", 4),
                ..Default::default()
            }
        };
        parsed.records.push(record);
        lines.push(line);
    }
    parsed.validate(country, &lines)
}

/// CSV export: a header row, then one flag per row, oldest first.
pub fn to_csv(flags: &[&Flag]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(flags.len() * 80));
    w.write_record([
        "id",
        "field",
        "value",
        "reason",
        "added_by",
        "expires_at",
        "added_at",
        "updated_at",
    ])?;
    for f in flags {
        w.write_record([
            f.id(),
            &*f.field,
            f.value(),
            f.reason.as_deref().unwrap_or(""),
            f.added_by.as_deref().unwrap_or(""),
            &f.expires_at.map(format_millis).unwrap_or_default(),
            &format_millis(f.added_at),
            &f.updated_at.map(format_millis).unwrap_or_default(),
        ])?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_header_and_bad_lines() {
        let text = "field,value,reason\nphone,305-555-1234,asked\nphone,123,bad\nemail,A@B.COM,\n";
        let p = parse_csv(text.as_bytes(), "US");
        assert_eq!(p.records.len(), 2);
        assert_eq!(p.invalid.len(), 1);
        assert_eq!(p.invalid[0].line, 3);
        assert_eq!(p.invalid[0].value, "123");
    }

    #[test]
    fn bare_numbers_mean_phone() {
        let p = parse_csv(b"3055551234\n(305) 555-0000\n", "US");
        assert_eq!(p.records.len(), 2);
        assert!(p
            .records
            .iter()
            .all(|r| r.field.as_deref() == Some("phone")));
    }

    #[test]
    fn json_array_or_document() {
        let p = parse_json(
            br#"[{"field":"lead_id","value":1},{"field":"phone"}]"#,
            "US",
        )
        .expect("json");
        assert_eq!((p.records.len(), p.invalid.len()), (1, 1));
        let p = parse_json(
            br#"{"enabled":true,"flags":[{"field":"x","value":"y"}]}"#,
            "US",
        )
        .expect("doc");
        assert_eq!(p.records.len(), 1);
        assert!(parse_json(b"{", "US").is_err());
    }
}
