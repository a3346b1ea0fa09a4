//! Settling an `unconfirmed` call (admin): Bland has it (`sent`), send it again
//! (`resend`), or drop it (`cancel`).

use std::io;

use serde_json::{json, Value};

use super::outbox::{Record, State};
use super::{calls, Gateway};
use crate::journal::{CallEvent, DispatchStatus};

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no open outbox entry `{0}`")]
    NotFound(String),
    #[error("entry `{0}` is {1:?}, not unconfirmed")]
    NotUnconfirmed(String, State),
    #[error(transparent)]
    Storage(#[from] io::Error),
}

impl Gateway {
    /// Settles an unconfirmed entry: `sent` (Bland has it), `resend` or `cancel`.
    pub async fn resolve(
        &self,
        request_id: &str,
        resolution: &str,
        call_id: Option<String>,
    ) -> Result<Value, ResolveError> {
        let entry = self
            .outbox
            .get(request_id)
            .ok_or_else(|| ResolveError::NotFound(request_id.into()))?;
        if entry.state != State::Unconfirmed {
            return Err(ResolveError::NotUnconfirmed(request_id.into(), entry.state));
        }
        let at = self.clock.now();
        let dispatch =
            |status, call_id: Option<String>, error: Option<String>| CallEvent::Dispatch {
                timestamp: at,
                request_id: request_id.into(),
                status,
                lead_id: Some(entry.lead_id.clone()),
                phone: Some(entry.phone.clone()),
                call_id,
                error,
            };
        match resolution {
            "sent" => {
                if let Some(id) = &call_id {
                    self.calls.insert(
                        id,
                        calls::CallRef {
                            request_id: request_id.into(),
                            lead_id: Some(entry.lead_id.clone()),
                            phone: Some(entry.phone.clone()),
                            outcome: None,
                        },
                    );
                }
                self.outbox
                    .record(Record::Resolved {
                        request_id: request_id.into(),
                        at,
                        sent: true,
                        call_id: call_id.clone(),
                    })
                    .wait()
                    .await?;
                self.record_dispatch(dispatch(
                    DispatchStatus::Sent,
                    call_id,
                    Some("resolved by an admin".into()),
                ))
                .wait()
                .await?;
            }
            "resend" => {
                self.outbox
                    .record(Record::Retry {
                        request_id: request_id.into(),
                        at,
                        n: entry.attempts.len() as u32,
                        error: "resend requested by an admin".into(),
                    })
                    .wait()
                    .await?;
                let _ = self.queue.send(request_id.into());
            }
            _ => {
                self.outbox
                    .record(Record::Resolved {
                        request_id: request_id.into(),
                        at,
                        sent: false,
                        call_id: None,
                    })
                    .wait()
                    .await?;
                self.record_dispatch(dispatch(
                    DispatchStatus::Failed,
                    None,
                    Some("cancelled by an admin".into()),
                ))
                .wait()
                .await?;
            }
        }
        tracing::info!(request_id, resolution, "unconfirmed call resolved");
        Ok(json!({"request_id": request_id, "resolution": resolution}))
    }
}
