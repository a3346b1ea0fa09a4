//! Reading the TOML settings file: scalar keys become (value, origin) pairs keyed by their
//! environment name; the `[bland.call]` table is returned whole.

use std::collections::HashMap;
use std::path::Path;

use super::{ConfigError, SETTINGS};

/// Tables read as a whole rather than as scalar settings.
const STRUCTURED_KEYS: &[&str] = &[
    "bland.call",
    "content",
    "feeds",
    "lists",
    "caller_ids",
    "caller_id_pool",
];

/// Arrays whose items may hold commas: joined with `|`, as their environment variables are.
const PIPE_LISTS: &[&str] = &["sms.messages"];

/// The tables read whole.
#[derive(Default)]
pub(super) struct Tables {
    pub bland_call: serde_json::Map<String, serde_json::Value>,
    pub content: super::tables::ContentSettings,
    pub feeds: Vec<super::tables::FeedSettings>,
    pub lists: Vec<super::lists::ListSettings>,
    pub caller_ids: Vec<serde_json::Value>,
    pub caller_id_pool: serde_json::Map<String, serde_json::Value>,
}

/// Reads the scalar settings into `raw`; returns the structured tables.
pub(super) fn read_file(
    path: &Path,
    raw: &mut HashMap<&'static str, (String, String)>,
) -> Result<Tables, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(
            "--config / CALLGATE_CONFIG",
            format!("cannot read {shown}: {e}"),
        )
    })?;
    let table: toml::Table = text.parse().map_err(|e| {
        ConfigError::new(
            format!("config file {shown}"),
            format!("not valid TOML: {e}"),
        )
    })?;
    flatten(&table, "", &shown, raw)?;
    let call = table
        .get("bland")
        .and_then(|b| b.get("call"))
        .map(|c| {
            serde_json::to_value(c)
                .map_err(|e| ConfigError::new(format!("bland.call (in {shown})"), e.to_string()))
        })
        .transpose()?;
    let bland_call = match call {
        None => serde_json::Map::new(),
        Some(serde_json::Value::Object(map)) => map,
        Some(_) => {
            return Err(ConfigError::new(
                format!("bland.call (in {shown})"),
                "must be a table",
            ))
        }
    };
    let as_json = |key: &str| {
        table
            .get(key)
            .map(|v| {
                serde_json::to_value(v)
                    .map_err(|e| ConfigError::new(format!("{key} (in {shown})"), e.to_string()))
            })
            .transpose()
    };
    let caller_ids = match as_json("caller_ids")? {
        None => Vec::new(),
        Some(serde_json::Value::Array(a)) => a,
        Some(_) => {
            return Err(ConfigError::new(
                format!("caller_ids (in {shown})"),
                "must be an array of tables: [[caller_ids]]",
            ))
        }
    };
    let caller_id_pool = match as_json("caller_id_pool")? {
        None => serde_json::Map::new(),
        Some(serde_json::Value::Object(m)) => m,
        Some(_) => {
            return Err(ConfigError::new(
                format!("caller_id_pool (in {shown})"),
                "must be a table",
            ))
        }
    };
    Ok(Tables {
        caller_ids,
        caller_id_pool,
        bland_call,
        content: super::tables::content(&table, &shown)?,
        feeds: super::tables::feeds(&table, &shown)?,
        lists: super::lists::lists(&table, &shown)?,
    })
}

fn flatten(
    table: &toml::Table,
    prefix: &str,
    file: &str,
    raw: &mut HashMap<&'static str, (String, String)>,
) -> Result<(), ConfigError> {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if STRUCTURED_KEYS.contains(&path.as_str()) {
            continue;
        }
        let origin = format!("{path} (in {file})");
        let text = match value {
            toml::Value::Table(inner) => {
                flatten(inner, &path, file, raw)?;
                continue;
            }
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(n) => n.to_string(),
                    _ => String::new(),
                })
                .collect::<Vec<_>>()
                .join(if PIPE_LISTS.contains(&path.as_str()) {
                    "|"
                } else {
                    ","
                }),
            toml::Value::Datetime(d) => d.to_string(),
        };
        let Some((_, var)) = SETTINGS.iter().find(|(k, _)| *k == path) else {
            return Err(ConfigError::new(origin, "unknown setting"));
        };
        raw.insert(var, (text, origin));
    }
    Ok(())
}
