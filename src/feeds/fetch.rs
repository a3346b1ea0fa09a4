//! One fetch of a feed: the request with its headers, the size limit on the way in, the
//! body read into entries, and the failures that keep the last good list.

use crate::config::FeedSettings;

/// Why a fetch keeps the last good list (shown as the feed's `last_error`).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("request failed: {0}")]
    Request(#[source] reqwest::Error),
    #[error("answered {0}")]
    Status(reqwest::StatusCode),
    #[error("body is over the {0} byte limit")]
    TooLarge(u64),
    #[error("reading the body failed: {0}")]
    Body(#[source] reqwest::Error),
    #[error("the feed returned no entries (it had {0}); keeping the last good list")]
    Emptied(usize),
}

/// Fetches `s` and reads its entries; `had` is how many the list in force holds (a
/// feed that empties a list is refused). Returns the entries and the lines skipped.
pub(super) async fn fetch(
    http: &reqwest::Client,
    s: &FeedSettings,
    had: usize,
    country: &str,
) -> Result<(Vec<String>, usize), FetchError> {
    let mut req = http.get(&s.url);
    for (k, v) in &s.headers {
        req = req.header(k, v.expose());
    }
    let mut res = req.send().await.map_err(FetchError::Request)?;
    if !res.status().is_success() {
        return Err(FetchError::Status(res.status()));
    }
    if res.content_length().is_some_and(|n| n > s.max_bytes) {
        return Err(FetchError::TooLarge(s.max_bytes));
    }
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(FetchError::Body)? {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > s.max_bytes {
            return Err(FetchError::TooLarge(s.max_bytes));
        }
    }
    let text = String::from_utf8_lossy(&body);
    let parsed = super::parse::parse(&text, s.format, content_type.as_deref(), s.kind, country);
    if parsed.entries.is_empty() && had > 0 {
        return Err(FetchError::Emptied(had));
    }
    Ok((parsed.entries, parsed.skipped))
}
