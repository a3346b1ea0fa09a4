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
use crate::lists::rules::Verdict as ListVerdict;
use crate::lists::Lists;

pub struct BlocklistCheck {
    flags: Arc<Blocklist>,
    lists: Arc<Lists>,
    feeds: Arc<Feeds>,
    /// Where the lead's state is read from (state do-not-call lists), and the zone that
    /// dates a list's age.
    state_fields: Vec<String>,
    tz: chrono_tz::Tz,
    /// The call's own text (templates).
    templates: Vec<String>,
}

impl BlocklistCheck {
    pub fn new(
        flags: Arc<Blocklist>,
        lists: Arc<Lists>,
        feeds: Arc<Feeds>,
        bland: &BlandSettings,
        state_fields: Vec<String>,
        tz: chrono_tz::Tz,
    ) -> Self {
        let templates = [&bland.task, &bland.first_sentence, &bland.voicemail_message]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        Self {
            flags,
            lists,
            feeds,
            state_fields,
            tz,
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

impl BlocklistCheck {
    /// The do-not-call lists, after the flags: a hit, or a gated list with no current
    /// snapshot, blocks (fail closed).
    fn list_block(&self, lead: &Lead, now: DateTime<Utc>) -> Option<Verdict> {
        if self.lists.is_empty() {
            return None;
        }
        let state = self
            .state_fields
            .iter()
            .find_map(|f| lead.fields.get(f).and_then(|v| v.as_str()))
            .map(|s| s.trim().to_ascii_uppercase());
        let today = crate::clock::business_date(now, self.tz);
        let phone = lead.phone.as_str();
        self.lists
            .consult(lead, state.as_deref(), now, today)
            .into_iter()
            .find_map(|c| {
                let reason = match c.verdict {
                    ListVerdict::Hit { reason, .. } | ListVerdict::Closed { reason } => reason,
                    _ => return None,
                };
                Some(Verdict::Block {
                    reason: format!("Blocked: {reason}"),
                    details: Some(BlockDetails {
                        field: "phone".into(),
                        value: phone.to_string(),
                        flag_id: None,
                        source: "list",
                        flag_reason: Some(match c.version {
                            Some(v) => format!("list {} version {v}", c.name),
                            None => format!("list {} (no snapshot)", c.name),
                        }),
                    }),
                })
            })
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
        if let Some(block) = self.list_block(lead, now) {
            return block;
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
