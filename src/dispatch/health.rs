//! The `dispatch` component of `/health`.

use super::Sending;

impl crate::health::HealthSource for Sending {
    fn name(&self) -> &'static str {
        "dispatch"
    }

    /// Degraded while calls wait for an admin to settle them (`unconfirmed`, `failed`),
    /// while Bland is refusing calls that are being retried (`retrying`), while a 429
    /// pauses every send (`paused_until`, `paused_why`), and in live mode without
    /// `PUBLIC_BASE_URL` (Bland has nowhere to report outcomes), and while calls wait for a
    /// caller id (`waiting_for_caller_id`: no number of the pool is usable). With a calling budget set,
    /// `capacity` says what is left of it this hour and today.
    fn report(&self) -> crate::health::ComponentReport {
        use crate::health::{ComponentReport, HealthStatus};
        let [queued, in_flight, unconfirmed, failed, retrying] = self.ledger.outbox_store.counts();
        let no_callback = self.provider.live() && self.ledger.settings.public_base_url.is_none();
        let paused = self.sends.paused(self.ledger.clock.now());
        let waiting = self.caller_ids.waiting();
        let held = paused.is_some() || waiting.is_some();
        let status = if unconfirmed + failed + retrying > 0 || no_callback || held {
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
        if let Some(used) = self.sends.capacity(self.ledger.clock.now()) {
            report = report.with("capacity", used.report());
        }
        if let Some(p) = paused {
            report = report
                .with("paused_until", crate::clock::format_instant(p.until))
                .with("paused_why", p.why);
        }
        if let Some(w) = waiting {
            report = report.with("waiting_for_caller_id", w.why);
        }
        if no_callback {
            report = report.with(
                "warning",
                "live mode without PUBLIC_BASE_URL: Bland gets no webhook, so outcomes never arrive",
            );
        }
        report
    }
}
