//! What a call's outcome (or a chosen stage's block) sets off beyond the journal: the
//! do-not-call flag, the Convoso writes, the redials. See [`super::writeback`].

use std::collections::BTreeMap;

use crate::convoso::params::{dnc_insert, lead_update, status_for, CallDetails};
use crate::convoso::{Write, WriteKind};

/// Why what an outcome sets off did not happen (the completion is answered 503 and the
/// provider retries it).
#[derive(Debug, thiserror::Error)]
pub enum FollowUpError {
    #[error("could not flag {phone}, which asked not to be called: {source}")]
    Flag {
        phone: String,
        #[source]
        source: crate::blocklist::BlocklistError,
    },
    #[error("could not queue the Convoso {what}: {source}")]
    Write {
        what: &'static str,
        #[source]
        source: crate::store::StoreError,
    },
    /// Stopping or scheduling the lead's redials (`doing`), or journaling it (`None`).
    #[error("{}{source}", doing.map(|d| format!("could not {d}: ")).unwrap_or_default())]
    Redial {
        doing: Option<&'static str>,
        #[source]
        source: crate::store::StoreError,
    },
    #[error("the lead to redial does not parse: {0}")]
    RedialLead(String),
    #[error("could not schedule or cancel the lead's texts: {0}")]
    Texts(#[source] crate::store::StoreError),
}

impl FollowUpError {
    fn write(what: &'static str) -> impl FnOnce(crate::store::StoreError) -> Self {
        move |source| Self::Write { what, source }
    }

    pub(super) fn redial(
        doing: Option<&'static str>,
    ) -> impl FnOnce(crate::store::StoreError) -> Self {
        move |source| Self::Redial { doing, source }
    }

    /// Whether the database is what failed.
    pub fn is_database(&self) -> bool {
        match self {
            Self::Write { source, .. } | Self::Redial { source, .. } | Self::Texts(source) => {
                source.is_database()
            }
            Self::Flag { .. } | Self::RedialLead(_) => false,
        }
    }
}

/// Completion and follow-up: a completion matched to its call ([`super::completion`]),
/// and what an outcome or a block sets off (a flag, Convoso writes, redials).
pub struct FollowUps {
    pub(super) ledger: std::sync::Arc<super::Ledger>,
    /// Reads the completion webhook and checks its signature.
    pub provider: std::sync::Arc<dyn crate::provider::CallProvider>,
    /// Flags added by outcomes that say do-not-call.
    pub(super) blocklist: std::sync::Arc<crate::blocklist::Blocklist>,
    /// Writes back to Convoso (`None`: not wired, as in offline commands).
    pub writeback: Option<std::sync::Arc<super::writeback::Writeback>>,
    /// Told each outcome (pickup rates, streaks, the automatic rest).
    pub(super) caller_ids: std::sync::Arc<super::callerid::CallerIds>,
    /// The follow-up texts an outcome schedules or cancels.
    pub(super) texts: std::sync::Arc<super::texts::Texts>,
}

impl FollowUps {
    /// What an outcome sets off beyond the journal, before it is journaled (so a failure
    /// is answered with an error and Bland's retry finds the call unsettled): the number
    /// flagged at once when the outcome says do-not-call, then the Convoso writes — the
    /// lead update and, if configured, the DNC insert. Each is idempotent: the flag is
    /// found live, the writes are keyed by the call id.
    pub(super) async fn follow_up(
        &self,
        c: &super::completion::Completion,
        request_id: Option<&str>,
        lead_id: Option<&str>,
        phone: Option<&str>,
    ) -> Result<(), FollowUpError> {
        let Some(wb) = &self.writeback else {
            return Ok(());
        };
        let dnc = status_for(wb.settings(), c.outcome, &c.tags).1;
        if let (Some(lead_id), Some(phone)) = (lead_id, phone) {
            let texts = self.texts_after(c, request_id, lead_id, phone).await;
            texts.map_err(FollowUpError::Texts)?;
            self.redial_after(c, request_id, lead_id, phone, dnc)
                .await?;
        }
        let s = wb.settings();
        let (status, dnc) = status_for(s, c.outcome, &c.tags);
        let now = self.ledger.clock.now();
        let reason = format!("do-not-call from call {}", c.call_id);
        if let (true, Some(phone)) = (dnc, phone) {
            let flag_id = self.flag_number(phone, reason.clone(), "outcome").await?;
            tracing::warn!(call_id = %c.call_id, flag_id, "do-not-call outcome: the number is flagged");
        }
        if let Some(lead_id) = lead_id {
            let details = CallDetails {
                call_id: c.call_id.clone(),
                duration_s: c.duration_s,
                answered_by: c.answered_by.clone(),
                recording_url: c.recording_url.clone(),
                summary: c.summary.clone(),
                transcript: c.transcript.clone(),
            };
            let params = lead_update(s, lead_id, c.list_id.as_deref(), &status, &details);
            let mut w = Write::new(
                format!("lead_{}", c.call_id),
                WriteKind::LeadUpdate,
                params,
                now,
            );
            w.call_id = Some(c.call_id.clone());
            w.lead_id = Some(lead_id.to_string());
            w.phone = phone.map(str::to_string);
            wb.enqueue(w)
                .await
                .map_err(FollowUpError::write("update"))?;
        }
        if let (true, true, Some(phone)) = (dnc, s.push_dnc, phone) {
            let mut w = Write::new(
                format!("dnc_{}", c.call_id),
                WriteKind::DncInsert,
                dnc_insert(s, phone, &reason),
                now,
            );
            w.call_id = Some(c.call_id.clone());
            w.lead_id = lead_id.map(str::to_string);
            w.phone = Some(phone.to_string());
            wb.enqueue(w)
                .await
                .map_err(FollowUpError::write("DNC insert"))?;
        }
        Ok(())
    }
}

impl FollowUps {
    /// Flags `phone` at once (found live if it was flagged already); the flag's id.
    pub(super) async fn flag_number(
        &self,
        phone: &str,
        reason: String,
        added_by: &str,
    ) -> Result<String, FollowUpError> {
        let record = crate::blocklist::FlagRecord {
            field: Some("phone".into()),
            value: Some(serde_json::Value::String(phone.to_string())),
            reason: Some(reason),
            added_by: Some(added_by.into()),
            ..Default::default()
        };
        let added = self
            .blocklist
            .add(record)
            .await
            .map_err(|source| FollowUpError::Flag {
                phone: phone.to_string(),
                source,
            })?;
        Ok(added.flag.id().to_string())
    }

    /// The texts an outcome sets off: a person answered (or the call was transferred):
    /// the number's pending texts are cancelled; a triggering outcome: the sequence.
    async fn texts_after(
        &self,
        c: &super::completion::Completion,
        request_id: Option<&str>,
        lead_id: &str,
        phone: &str,
    ) -> crate::store::StoreResult<()> {
        let now = self.ledger.clock.now();
        if matches!(
            c.outcome,
            crate::journal::Outcome::Human | crate::journal::Outcome::Transferred
        ) {
            self.texts.cancel(phone, "a person answered", now).await?;
            return Ok(());
        }
        let names = &self.ledger.settings.lead_fields;
        let mut fields = c.request_data.clone().unwrap_or_default();
        let id_field = names.lead_id.first().map_or("lead_id", String::as_str);
        let phone_field = names.phone.first().map_or("phone_number", String::as_str);
        fields.insert(id_field.to_string(), serde_json::json!(lead_id));
        fields.insert(phone_field.to_string(), serde_json::json!(phone));
        if let (Some(list), false) = (&c.list_id, fields.contains_key("list_id")) {
            fields.insert("list_id".into(), serde_json::json!(list));
        }
        fields.remove(crate::provider::REDIAL_FIELD);
        let call = request_id.unwrap_or(&c.call_id);
        self.texts
            .after_outcome(c.outcome.as_str(), call, lead_id, phone, fields, now)
            .await
            .map(|_| ())
    }

    /// A block by one of `write_blocked_stages`, written back to the lead once its decision
    /// is durable: status `do_not_call` (DNC) for a do-not-call list's block, else
    /// `blocked`. A failure to queue it is logged; the decision stands.
    pub(super) async fn write_back_block(
        &self,
        lead: &crate::domain::Lead,
        request_id: &str,
        decided: &super::Submitted,
    ) {
        let Some(wb) = &self.writeback else { return };
        let e = &decided.eval;
        let Some(stage) = e
            .stage
            .filter(|_| e.decision == crate::journal::Decision::Blocked)
        else {
            return;
        };
        let s = wb.settings();
        if !s.write_blocked_stages.iter().any(|x| x == stage) {
            return;
        }
        let key = match &e.block {
            Some(b) if b.source == "list" => "do_not_call",
            _ => "blocked",
        };
        let mut params = BTreeMap::from([
            ("lead_id".to_string(), lead.lead_id.clone()),
            ("status".to_string(), s.status_for(key)),
        ]);
        if let Some(list) = lead.field("list_id") {
            params.insert("list_id".into(), list);
        }
        let mut w = Write::new(
            format!("block_{request_id}"),
            WriteKind::LeadUpdate,
            params,
            self.ledger.clock.now(),
        );
        w.lead_id = Some(lead.lead_id.clone());
        w.phone = Some(lead.phone.as_str().to_string());
        if let Err(err) = wb.enqueue(w).await {
            tracing::error!(request_id, error = %err, "could not queue the Convoso update for a block");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FollowUpError;
    use crate::db::DbError;

    #[test]
    fn follow_up_errors_say_what_failed_and_whether_it_was_the_database() {
        let db = || DbError::Conflict {
            name: "x".into(),
            expected: 1,
            found: 2,
        };
        let stopped = FollowUpError::redial(Some("stop the lead's redials"))(db().into());
        let said = stopped.to_string();
        assert!(
            said.starts_with("could not stop the lead's redials: "),
            "{said}"
        );
        assert!(said.contains("`x` was changed"), "{said}");
        assert!(stopped.is_database());
        let journaled = FollowUpError::redial(None)(std::io::Error::other("disk full").into());
        assert_eq!(journaled.to_string(), "disk full");
        assert!(!journaled.is_database());
        let write = FollowUpError::write("DNC insert")(db().into());
        assert!(write
            .to_string()
            .starts_with("could not queue the Convoso DNC insert: "));
        assert!(write.is_database());
        let lead = FollowUpError::RedialLead("no phone".into());
        assert_eq!(
            lead.to_string(),
            "the lead to redial does not parse: no phone"
        );
        assert!(!lead.is_database());
    }
}
