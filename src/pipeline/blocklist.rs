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
use crate::lists::{ListUse, Lists};
use crate::schedule::rules::Rules;

pub struct BlocklistCheck {
    flags: Arc<Blocklist>,
    lists: Arc<Lists>,
    feeds: Arc<Feeds>,
    /// Where the lead's state is read from (state do-not-call lists), and the zone that
    /// dates a list's age.
    state_fields: Vec<String>,
    rules: Arc<Rules>,
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
        rules: Arc<Rules>,
        tz: chrono_tz::Tz,
    ) -> Self {
        Self {
            templates: templates(bland),
            flags,
            lists,
            feeds,
            state_fields,
            rules,
            tz,
        }
    }

    /// The text screened for blocked words.
    pub fn call_text(&self, lead: &Lead) -> String {
        call_text(&self.templates, &self.feeds.lead_fields, lead)
    }
}

/// The call's own text templates (Bland's task, first sentence, voicemail message).
pub fn templates(bland: &BlandSettings) -> Vec<String> {
    [&bland.task, &bland.first_sentence, &bland.voicemail_message]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
}

/// The text screened for blocked words: the templates filled with the lead's fields, then
/// the configured lead fields.
pub fn call_text(templates: &[String], lead_fields: &[String], lead: &Lead) -> String {
    let mut text = String::new();
    for t in templates {
        text.push_str(&lead.fill(t));
        text.push('\n');
    }
    for f in lead_fields {
        if let Some(v) = lead.field(f) {
            text.push_str(&v);
            text.push('\n');
        }
    }
    text
}

impl BlocklistCheck {
    /// The do-not-call lists, after the flags: a hit, or a gated list with no current
    /// snapshot, blocks (fail closed). Every list is consulted (and recorded), so the trace
    /// shows each version a call was scrubbed against; the first that blocks decides.
    fn list_block(&self, lead: &Lead, now: DateTime<Utc>) -> (Option<Verdict>, Vec<ListUse>) {
        if self.lists.is_empty() {
            return (None, Vec::new());
        }
        let today = crate::clock::business_date(now, self.tz);
        let phone = lead.phone.as_str();
        let consulted = self.lists.consult(
            lead,
            &self.rules.lead_states(&self.state_fields, lead),
            now,
            today,
        );
        let block = consulted.iter().find_map(|c| {
            let reason = c.blocks()?;
            Some(Verdict::Block {
                reason: format!("Blocked: {reason}"),
                details: Some(BlockDetails {
                    field: "phone".into(),
                    value: phone.to_string(),
                    flag_id: None,
                    source: "list",
                    flag_reason: Some(match c.record.version {
                        Some(v) => format!("list {} version {v}", c.record.list),
                        None => format!("list {} (no snapshot)", c.record.list),
                    }),
                    list: Some((c.record.list.to_string(), c.record.version)),
                }),
            })
        });
        (block, consulted.into_iter().map(|c| c.record).collect())
    }
}

impl Check for BlocklistCheck {
    fn stage(&self) -> &'static str {
        "blocklist"
    }

    fn evaluate(&self, lead: &Lead, now: DateTime<Utc>) -> Verdict {
        self.evaluate_traced(lead, now).0
    }

    /// The flags, the lists, the feeds and the content screen. Turning the blocklist off
    /// (the seed's `enabled`) turns off flags, feeds and the screen, never the do-not-call
    /// lists: those are the law's, not the operator's.
    fn evaluate_traced(&self, lead: &Lead, now: DateTime<Utc>) -> (Verdict, Vec<ListUse>) {
        let enabled = self.flags.is_enabled();
        if enabled {
            if let Some(block) = self.flag_block(lead, now) {
                return (block, Vec::new());
            }
        }
        let (block, lists) = self.list_block(lead, now);
        match block {
            Some(block) => (block, lists),
            None if !enabled => (Verdict::Allow, lists),
            None => (self.screen(lead), lists),
        }
    }
}

impl BlocklistCheck {
    fn flag_block(&self, lead: &Lead, now: DateTime<Utc>) -> Option<Verdict> {
        let hit = self
            .flags
            .match_lead(&lead.fields, now.timestamp_millis())?;
        Some(Verdict::Block {
            reason: format!("Blocked by flag: {}={}", hit.flag.field, hit.flag.value()),
            details: Some(BlockDetails {
                field: hit.flag.field.to_string(),
                value: hit.value,
                flag_id: Some(hit.flag.id().to_string()),
                source: "flag",
                flag_reason: hit.flag.reason.as_deref().map(str::to_string),
                list: None,
            }),
        })
    }

    /// The numbers feeds, then blocked words in the call's text.
    fn screen(&self, lead: &Lead) -> Verdict {
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
                    list: None,
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
                        list: None,
                    }),
                };
            }
        }
        Verdict::Allow
    }
}
