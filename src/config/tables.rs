//! The config file's structured tables: `[content]` and `[[feeds]]` (they have no
//! environment variables).

use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, Secret};

#[derive(Debug, Clone, Default)]
pub struct ContentSettings {
    /// Words and phrases that block a call when its text carries them.
    pub blocked_words: Vec<String>,
    /// Lead fields screened as well as Bland's task, first sentence and voicemail message.
    pub lead_fields: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedKind {
    Numbers,
    Words,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FeedFormat {
    #[default]
    Auto,
    Html,
    Csv,
    Text,
}

#[derive(Debug, Clone)]
pub struct FeedSettings {
    pub name: String,
    pub kind: FeedKind,
    pub url: String,
    pub refresh: Duration,
    pub format: FeedFormat,
    /// Extra request headers (an API token, say); values are secrets.
    pub headers: Vec<(String, Secret)>,
    pub max_bytes: u64,
}

/// Default feed refresh: every 6 hours.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(6 * 3600);
/// Largest feed body accepted: 50 MB.
pub const DEFAULT_MAX_FEED_BYTES: u64 = 50 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContent {
    #[serde(default)]
    blocked_words: Vec<String>,
    #[serde(default)]
    lead_fields: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    name: String,
    kind: FeedKind,
    url: String,
    #[serde(default)]
    refresh: Option<String>,
    #[serde(default)]
    format: FeedFormat,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    max_bytes: Option<u64>,
}

/// `"6h"`, `"30m"`, `"45s"`, `"1d"`, or plain seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = number.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return None,
    };
    (secs > 0).then(|| Duration::from_secs(secs))
}

pub(super) fn content(table: &toml::Table, file: &str) -> Result<ContentSettings, ConfigError> {
    let Some(value) = table.get("content") else {
        return Ok(ContentSettings::default());
    };
    let raw: RawContent = value
        .clone()
        .try_into()
        .map_err(|e| ConfigError::new(format!("content (in {file})"), e.to_string()))?;
    Ok(ContentSettings {
        blocked_words: raw.blocked_words,
        lead_fields: raw.lead_fields,
    })
}

/// A table entry's `name`: letters, digits, `-`, `_` or `.`, and not one of `taken`.
pub(super) fn entry_name<'a>(
    raw: &str,
    at: &str,
    mut taken: impl Iterator<Item = &'a str>,
) -> Result<String, ConfigError> {
    let name = raw.trim().to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(ConfigError::new(at, "use letters, digits, `-`, `_` or `.`"));
    }
    if taken.any(|other| other == name) {
        return Err(ConfigError::new(at, format!("`{name}` is used twice")));
    }
    Ok(name)
}

pub(super) fn feeds(table: &toml::Table, file: &str) -> Result<Vec<FeedSettings>, ConfigError> {
    let Some(value) = table.get("feeds") else {
        return Ok(Vec::new());
    };
    let raw: Vec<RawFeed> = value
        .clone()
        .try_into()
        .map_err(|e| ConfigError::new(format!("feeds (in {file})"), e.to_string()))?;
    let mut feeds: Vec<FeedSettings> = Vec::new();
    for (n, f) in raw.into_iter().enumerate() {
        let at = |what: &str| format!("feeds[{n}].{what} (in {file})");
        let name = entry_name(&f.name, &at("name"), feeds.iter().map(|o| o.name.as_str()))?;
        let url = reqwest::Url::parse(&f.url)
            .map_err(|e| ConfigError::new(at("url"), format!("`{}`: {e}", f.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConfigError::new(at("url"), "must be http:// or https://"));
        }
        let refresh = match f.refresh.as_deref() {
            None => DEFAULT_REFRESH,
            Some(r) => parse_duration(r).ok_or_else(|| {
                ConfigError::new(
                    at("refresh"),
                    format!("`{r}` is not a duration such as 6h or 30m"),
                )
            })?,
        };
        feeds.push(FeedSettings {
            name,
            kind: f.kind,
            url: f.url,
            refresh,
            format: f.format,
            headers: f
                .headers
                .into_iter()
                .map(|(k, v)| (k, Secret::new(v)))
                .collect(),
            max_bytes: f.max_bytes.unwrap_or(DEFAULT_MAX_FEED_BYTES),
        });
    }
    Ok(feeds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("6h"), Some(Duration::from_secs(21_600)));
        assert_eq!(parse_duration("30m"), Some(Duration::from_secs(1_800)));
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("0h"), None);
        assert_eq!(parse_duration("soon"), None);
    }

    #[test]
    fn feeds_and_content_tables() {
        let table: toml::Table = r#"
            [content]
            blocked_words = ["prize", "social security administration"]
            lead_fields = ["notes"]
            [[feeds]]
            name = "scam-numbers"
            kind = "numbers"
            url = "https://feeds.example/numbers"
            refresh = "30m"
            headers = { Authorization = "Bearer x" }
            [[feeds]]
            name = "scam-words"
            kind = "words"
            url = "https://feeds.example/words"
            format = "html"
        "#
        .parse()
        .expect("toml");
        let c = content(&table, "f").expect("content");
        assert_eq!(c.lead_fields, ["notes"]);
        let f = feeds(&table, "f").expect("feeds");
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].refresh, Duration::from_secs(1800));
        assert_eq!(f[1].refresh, DEFAULT_REFRESH);
        assert_eq!(f[1].format, FeedFormat::Html);
        assert_eq!(f[0].headers[0].0, "Authorization");
        let bad: toml::Table = "[[feeds]]\nname = \"x\"\nkind = \"numbers\"\nurl = \"ftp://x\"\n"
            .parse()
            .expect("toml");
        assert!(feeds(&bad, "f")
            .expect_err("bad url")
            .setting
            .starts_with("feeds[0].url"));
    }
}
