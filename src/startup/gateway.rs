//! Building the gateway from the components: the pipeline, the outbox, the deferred
//! queue, the calls placed and the call provider for either backend, the Convoso write
//! sender, and (file backend) what the previous run left unsettled.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::parts::Components;
use crate::bland::{Bland, BlandClient};
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::dispatch::calls::{CallIndex, DbCalls, FileCalls, PlacedCalls};
use crate::dispatch::decisions::{DbDecisions, Decisions, FileDecisions};
use crate::dispatch::deferred::{DbDeferred, DeferredStore, FileDeferred};
use crate::dispatch::outbox::store::{DbOutbox, FileOutbox, OutboxStore};
use crate::dispatch::sends::{DbSends, FileSends, Sends};
use crate::dispatch::{self, outbox::Outbox, Gateway};
use crate::provider::CallProvider;
use crate::schedule::queue::DeferredQueue;

pub(super) type Built = (
    Gateway,
    tokio::sync::mpsc::UnboundedReceiver<dispatch::Wake>,
    Vec<String>,
);

/// The outbox, the deferred queue, the calls placed, the decisions and the sends, for
/// either backend.
type Queues = (
    Arc<dyn OutboxStore>,
    Arc<dyn DeferredStore>,
    Arc<dyn PlacedCalls>,
    Arc<dyn Decisions>,
    Arc<dyn Sends>,
);

/// The call provider: Bland, live with a key, a dry run without. (A second provider is
/// a branch here on a setting naming it, building its own `CallProvider`.)
fn call_provider(settings: &Settings) -> anyhow::Result<Arc<dyn CallProvider>> {
    Ok(Arc::new(Bland::new(
        bland_client(settings)?,
        settings.bland.clone(),
        settings.public_base_url.clone(),
    )))
}

fn bland_client(settings: &Settings) -> anyhow::Result<Option<BlandClient>> {
    match &settings.bland.api_key {
        None => {
            tracing::warn!("no BLAND_API_KEY: dry-run mode, calls are logged and never placed");
            Ok(None)
        }
        Some(key) => {
            if settings.public_base_url.is_none() {
                tracing::warn!("live mode without PUBLIC_BASE_URL: Bland is given no webhook, so call outcomes never arrive and each line stays busy until its automatic release; set PUBLIC_BASE_URL to this gateway's public URL");
            }
            Ok(Some(
                BlandClient::new(
                    &settings.bland.api_url,
                    key.clone(),
                    Duration::from_secs(settings.bland.timeout_secs),
                )
                .context("cannot build the Bland client")?,
            ))
        }
    }
}

/// The pipeline, outbox, call index and Bland client behind the webhooks. Returns the
/// gateway, its dispatch queue, and the calls to send now (file backend).
pub(super) async fn build_gateway(
    settings: &Arc<Settings>,
    src: &Components,
    clock: &SharedClock,
) -> anyhow::Result<Built> {
    let journals = &src.journals;
    let pipeline = crate::pipeline::standard(
        src.scheduler.clone(),
        src.tracker.clone(),
        src.blocklist.clone(),
        src.lists.clone(),
        src.feeds.clone(),
        &settings.bland,
        settings.timezone,
    );
    let files = open_files(settings, src, clock)?;
    let writeback = writeback(settings, src, clock)?;
    let (outbox_store, deferred_store, placed, decisions, sends) = roles(settings, src, &files);
    let (store, abandoned) = text_store(settings, src, clock)?;
    let docs: Arc<dyn crate::store::doc_store::DocumentStore> = match &src.db {
        None => Arc::new(crate::store::doc_store::FileDocuments::new(
            &settings.data_dir,
        )),
        Some(db) => Arc::new(crate::store::doc_store::DbDocuments::new(
            db.clone(),
            clock.clone(),
        )),
    };
    let texts = Arc::new(
        crate::dispatch::texts::Texts::open(store, journals.clone(), settings.clone(), docs)
            .await
            .context("cannot load the texts' config document")?,
    );
    let (gateway, queue) = Gateway::new(dispatch::Parts {
        release_passes: src.metrics.release_passes.clone(),
        text_rounds: src.metrics.text_rounds.clone(),
        blocklist: src.blocklist.clone(),
        writeback: Some(Arc::new(writeback)),
        pipeline,
        journals: journals.clone(),
        outbox_store: outbox_store.clone(),
        deferred_store: deferred_store.clone(),
        leases: src.leases.clone(),
        placed,
        scheduler: src.scheduler.clone(),
        tracker: src.tracker.clone(),
        provider: call_provider(settings)?,
        clock: clock.clone(),
        settings: settings.clone(),
        sends,
        decisions,
        // The database's group commit for intake; the file appenders commit in groups.
        batched: src.db.is_some(),
        caller_ids: src.caller_ids.clone(),
        texts,
    });
    gateway
        .texts
        .texts
        .abandoned_at_start(abandoned, clock.now())
        .await
        .context("DATA_DIR: cannot journal the texts a crash left unconfirmed")?;
    outbox_store
        .refresh()
        .await
        .context("DATABASE_URL: cannot read the shared queues")?;
    deferred_store
        .refresh(clock.now())
        .await
        .context("DATABASE_URL: cannot read the shared queues")?;
    // With the database nothing was left by a previous run of this instance: the rows are
    // every instance's.
    let Opened::Files(files) = files else {
        return Ok((gateway, queue, Vec::new()));
    };
    settle_previous_run(&gateway, &files).await?;
    Ok((gateway, queue, files.ready))
}

/// The storage roles the gateway holds, for the backend opened.
fn roles(settings: &Settings, src: &Components, opened: &Opened) -> Queues {
    let journals = &src.journals;
    match opened {
        Opened::Database(db) => (
            Arc::new(DbOutbox::new(db.clone())),
            Arc::new(DbDeferred::new(db.clone(), settings.timezone)),
            Arc::new(DbCalls::new(db.clone(), settings.timezone)),
            Arc::new(DbDecisions::new(
                db.clone(),
                journals.clone(),
                src.tracker.clone(),
                src.quarantine.clone(),
            )),
            Arc::new(DbSends::new(db.clone(), &settings.bland, settings.timezone)),
        ),
        Opened::Files(f) => (
            Arc::new(FileOutbox(f.outbox.clone())),
            Arc::new(FileDeferred {
                queue: f.deferred.clone(),
                journals: journals.clone(),
            }),
            Arc::new(FileCalls {
                index: f.calls.clone(),
                journals: journals.clone(),
            }),
            Arc::new(FileDecisions::new(
                journals.clone(),
                f.outbox.clone(),
                f.deferred.clone(),
                src.tracker.clone(),
            )),
            Arc::new(FileSends::new(
                f.outbox.clone(),
                &settings.bland,
                settings.timezone,
            )),
        ),
    }
}

/// The Convoso write sender over its store (the file log, or rows).
/// The follow-up texts' store: the log in `DATA_DIR`, or rows; with files, the texts a
/// crash left `sending`, now `unconfirmed`.
fn text_store(
    settings: &Settings,
    src: &Components,
    clock: &SharedClock,
) -> anyhow::Result<(
    Arc<dyn crate::dispatch::texts::TextStore>,
    Vec<crate::dispatch::texts::Text>,
)> {
    use crate::dispatch::texts::{DbTexts, FileTexts};
    Ok(match &src.db {
        Some(db) => (
            Arc::new(DbTexts::new(db.clone(), src.quarantine.clone())),
            Vec::new(),
        ),
        None => {
            let (store, abandoned) =
                FileTexts::open(&settings.data_dir, &src.quarantine, clock.now())
                    .context("DATA_DIR: cannot open the texts")?;
            (Arc::new(store), abandoned)
        }
    })
}

fn writeback(
    settings: &Settings,
    src: &Components,
    clock: &SharedClock,
) -> anyhow::Result<dispatch::writeback::Writeback> {
    let store: Box<dyn crate::convoso::writes::WriteStore> = match &src.db {
        None => Box::new(
            crate::convoso::writes::FileWrites::open(&settings.data_dir, &src.quarantine)
                .context("DATA_DIR: cannot open the Convoso writes")?,
        ),
        Some(db) => Box::new(crate::convoso::writes::DbWrites::new(db.clone())),
    };
    if settings.convoso.auth_token.is_none() {
        tracing::warn!(
            "no CONVOSO_AUTH_TOKEN: Convoso write-back is a dry run, what would be sent is logged"
        );
    }
    dispatch::writeback::Writeback::new(
        store,
        &settings.convoso,
        clock.clone(),
        src.metrics.clone(),
    )
    .context("cannot build the Convoso client")
}

/// File backend: what this instance's previous run left unsettled (calls the journal
/// shows as sent but the outbox as unconfirmed; releases a crash cut short).
async fn settle_previous_run(gateway: &Gateway, files: &Files) -> anyhow::Result<()> {
    let reconciled = gateway
        .reconciler
        .reconcile_unconfirmed(&files.outbox)
        .await
        .context("DATA_DIR: cannot settle calls the call journal shows as sent")?;
    if reconciled > 0 {
        tracing::info!(
            reconciled,
            "calls the outbox had as unconfirmed were already journaled as sent"
        );
    }
    gateway
        .intake
        .settle_in_doubt(&files.outbox, &files.deferred, files.in_doubt.clone())
        .await
        .context("DATA_DIR: cannot settle deferred leads whose release was interrupted")?;
    Ok(())
}

/// The file backend's queues, opened from `DATA_DIR`.
struct Files {
    outbox: Arc<Outbox>,
    /// Calls to send now.
    ready: Vec<String>,
    deferred: Arc<DeferredQueue>,
    /// Releases a crash cut short.
    in_doubt: Vec<crate::schedule::queue::Entry>,
    calls: Arc<CallIndex>,
}

/// The backend the queues live in.
enum Opened {
    Files(Files),
    Database(crate::db::Db),
}

/// The file backend's outbox, deferred queue and call index, or the database.
fn open_files(
    settings: &Settings,
    src: &Components,
    clock: &SharedClock,
) -> anyhow::Result<Opened> {
    if let Some(db) = &src.db {
        return Ok(Opened::Database(db.clone()));
    }
    let (outbox, ready) = Outbox::open(&settings.data_dir, clock.now(), &src.quarantine)
        .context("DATA_DIR: cannot open the outbox")?;
    let (deferred, in_doubt) = DeferredQueue::open(&settings.data_dir, &src.quarantine)
        .context("DATA_DIR: cannot open the deferred queue")?;
    let today = crate::clock::business_date(clock.now(), settings.timezone);
    let calls = CallIndex::rebuild(&settings.data_dir, today, &src.quarantine);
    Ok(Opened::Files(Files {
        outbox: Arc::new(outbox),
        ready,
        deferred: Arc::new(deferred),
        in_doubt,
        calls: Arc::new(calls),
    }))
}
