//! The `blocklist` check, from cheapest to dearest: field/value flags, numbers on the
//! numbers feeds, then blocked words in the text the call would carry (Bland's task, first
//! sentence and voicemail message with the lead's fields filled in, plus the configured lead
//! fields).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{BlockDetails, Check, Verdict};
use crate::blocklist::Blocklist;
use crate::config::BlandSettings;
use crate::domain::Lead;
use crate::feeds::Feeds;

pub struct BlocklistCheck {
    flags: Arc<Blocklist>,
    feeds: Arc<Feeds>,
    /// The call's own text (templates).
    templates: Vec<String>,
}

impl BlocklistCheck {
    pub fn new(flags: Arc<Blocklist>, feeds: Arc<Feeds>, bland: &BlandSettings) -> Self {
        let templates = [&bland.task, &bland.first_sentence, &bland.voicemail_message]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        Self {
            flags,
            feeds,
            templates,
        }
    }

    /// The text screened for blocked words.
    pub fn call_text(&self, lead: &Lead) -> String {
        let mut text = String::new();
        for t in &self.templates {
            text.push_str(&lead.fill(t));
            text.push('\n');
        }
        for f in &self.feeds.lead_fields {
            if let Some(v) = lead.field(f) {
                text.push_str(&v);
                text.push('\n');
            }
        }
        text
    }
}

impl Check for BlocklistCheck {
    fn stage(&self) -> &'static str {
        "blocklist"
    }

    fn evaluate(&self, lead: &Lead, now: DateTime<Utc>) -> Verdict {
        if !self.flags.is_enabled() {
            return Verdict::Allow;
        }
        if let Some(hit) = self.flags.match_lead(&lead.fields, now.timestamp_millis()) {
            return Verdict::Block {
                reason: format!("Blocked by flag: {}={}", hit.flag.field, hit.flag.value),
                details: Some(BlockDetails {
                    field: hit.flag.field.to_string(),
                    value: hit.value,
                    flag_id: Some(hit.flag.id.to_string()),
                    source: "flag",
                    flag_reason: hit.flag.reason.as_deref().map(str::to_string),
                }),
            };
        }
        let phone = lead.phone.as_str();
        if let Some(feed) = self.feeds.number_feed(phone) {
            return Verdict::Block {
                reason: format!("Blocked by feed {feed}: phone={phone}"),
                details: Some(BlockDetails {
                    field: "phone".into(),
                    value: phone.to_string(),
                    flag_id: None,
                    source: "feed",
                    flag_reason: Some(format!("listed on feed {feed}")),
                }),
            };
        }
        let screen = self.feeds.screen();
        if !screen.is_empty() {
            let text = self.call_text(lead);
            let terms = screen.matches(&text);
            if !terms.is_empty() {
                let joined = terms.join(", ");
                return Verdict::Block {
                    reason: format!("Blocked content: {joined}"),
                    details: Some(BlockDetails {
                        field: "content".into(),
                        value: joined,
                        flag_id: None,
                        source: "content",
                        flag_reason: None,
                    }),
                };
            }
        }
        Verdict::Allow
    }
}
