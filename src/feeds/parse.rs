//! Feed bodies to entries: HTML has its tags stripped; entries are separated by commas,
//! newlines or semicolons; numbers are normalised to E.164 (impossible ones are counted and
//! skipped); words are trimmed and lower-cased, phrases kept whole.

use crate::config::{FeedFormat, FeedKind};
use crate::domain::PhoneNumber;

/// Entries found, and how many pieces were skipped as not possible numbers.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    pub entries: Vec<String>,
    pub skipped: usize,
}

fn looks_like_html(body: &str, content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| c.contains("html")) || body.trim_start().starts_with('<')
}

/// Text content of an HTML document (tags, scripts and styles removed, a few entities decoded).
pub fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let lower: String = after
            .chars()
            .take(8)
            .collect::<String>()
            .to_ascii_lowercase();
        let skip_to = if lower.starts_with("<script") {
            after.to_ascii_lowercase().find("</script>").map(|i| i + 9)
        } else if lower.starts_with("<style") {
            after.to_ascii_lowercase().find("</style>").map(|i| i + 8)
        } else {
            after.find('>').map(|i| i + 1)
        };
        match skip_to {
            Some(n) => {
                out.push('\n');
                rest = &after[n..];
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.replace("&amp;", "&")
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

pub fn parse(
    body: &str,
    format: FeedFormat,
    content_type: Option<&str>,
    kind: FeedKind,
    country: &str,
) -> Parsed {
    let text = match format {
        FeedFormat::Html => strip_html(body),
        FeedFormat::Auto if looks_like_html(body, content_type) => strip_html(body),
        _ => body.to_string(),
    };
    let mut parsed = Parsed::default();
    let mut seen = std::collections::HashSet::new();
    for piece in text.split([',', '\n', '\r', ';']) {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        let entry = match kind {
            FeedKind::Numbers => match PhoneNumber::parse(piece, country) {
                Ok(p) => p.as_str().to_string(),
                Err(_) => {
                    parsed.skipped += 1;
                    continue;
                }
            },
            FeedKind::Words => piece
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase(),
        };
        if seen.insert(entry.clone()) {
            parsed.entries.push(entry);
        }
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_number_feed() {
        let html = "<html><head><style>p{}</style><script>var x='<b>';</script></head><body><h1>Numbers</h1><p>305-555-1234, (305) 555-0000;<br>not-a-number</p><p>+1 305 555 1234</p></body></html>";
        let p = parse(
            html,
            FeedFormat::Auto,
            Some("text/html"),
            FeedKind::Numbers,
            "US",
        );
        assert_eq!(p.entries, ["+13055551234", "+13055550000"]);
        assert_eq!(p.skipped, 2, "`Numbers` and `not-a-number`");
    }

    #[test]
    fn word_feeds_keep_phrases_whole() {
        let p = parse(
            "Prize,  Social Security   Administration\nGIFT CARD;",
            FeedFormat::Text,
            None,
            FeedKind::Words,
            "US",
        );
        assert_eq!(
            p.entries,
            ["prize", "social security administration", "gift card"]
        );
    }
}
