//! The `dispatch` component of `/health`.

use super::outbox::State;
use super::Gateway;

impl crate::health::HealthSource for Gateway {
    fn name(&self) -> &'static str {
        "dispatch"
    }

    /// Degraded while calls wait for an admin to settle them (`unconfirmed`, `failed`),
    /// while Bland is refusing calls that are being retried (`retrying`), and in live mode
    /// without `PUBLIC_BASE_URL` (Bland has nowhere to report outcomes).
    fn report(&self) -> crate::health::ComponentReport {
        use crate::health::{ComponentReport, HealthStatus};
        let [queued, in_flight, unconfirmed, failed, retrying] = match &self.shared {
            Some(sh) => sh.counts().outbox.map(|n| usize::try_from(n).unwrap_or(0)),
            None => {
                let entries = self.outbox.pending();
                let count = |s: State| entries.iter().filter(|e| e.state == s).count();
                let retrying = entries
                    .iter()
                    .filter(|e| e.state != State::Failed && e.state != State::Unconfirmed)
                    .filter(|e| e.last_error.is_some())
                    .count();
                [
                    count(State::Queued),
                    count(State::InFlight),
                    count(State::Unconfirmed),
                    count(State::Failed),
                    retrying,
                ]
            }
        };
        let no_callback = self.provider.live() && self.settings.public_base_url.is_none();
        let status = if unconfirmed + failed + retrying > 0 || no_callback {
            HealthStatus::Degraded
        } else {
            HealthStatus::Ok
        };
        let mut report = ComponentReport::new(status)
            .with(
                "mode",
                if self.provider.live() {
                    "live"
                } else {
                    "dry_run"
                },
            )
            .with("queued", queued)
            .with("in_flight", in_flight)
            .with("unconfirmed", unconfirmed)
            .with("failed", failed)
            .with("retrying", retrying)
            .with("callback_url", !no_callback);
        if no_callback {
            report = report.with(
                "warning",
                "live mode without PUBLIC_BASE_URL: Bland gets no webhook, so outcomes never arrive",
            );
        }
        report
    }
}

impl super::Gateway {
    /// Whether this instance's storage answers, so a webhook it takes is durable: the
    /// storage's name (`files` or `database`) and, when it does not answer, why (the
    /// data directory is not writable; the database gave no answer within two seconds).
    pub async fn storage_answers(&self) -> (&'static str, Option<String>) {
        match &self.shared {
            None => {
                let dir = self.settings.data_dir.clone();
                let probe = dir.join(".ready-probe");
                let writable = tokio::task::spawn_blocking(move || {
                    let ok = std::fs::write(&probe, b"ok").is_ok();
                    let _ = std::fs::remove_file(&probe);
                    ok
                })
                .await
                .unwrap_or(false);
                let error = (!writable)
                    .then(|| format!("the data directory {} is not writable", dir.display()));
                ("files", error)
            }
            Some(sh) => {
                let error = sh
                    .db
                    .ping(std::time::Duration::from_secs(2))
                    .await
                    .err()
                    .map(|e| format!("the database is unreachable: {e}"));
                ("database", error)
            }
        }
    }
}
