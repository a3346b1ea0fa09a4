//! Builds every component once from [`Settings`], binds (port 0 works), runs, and shuts
//! down gracefully: stop accepting, let in-flight requests finish (bounded by
//! `SHUTDOWN_TIMEOUT_SECS`), stop background tasks, fold the blocklist change log into its
//! document, release the data-directory lock.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::{Server, ServerHandle};
use actix_web::{middleware, web, App, HttpServer};
use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bland::BlandClient;
use crate::blocklist::{watch as bl_watch, Blocklist};
use crate::clock::{SharedClock, SystemClock};
use crate::config::Settings;
use crate::dispatch::{self, calls::CallIndex, outbox::Outbox, Gateway};
use crate::feeds::Feeds;
use crate::journal::retention::purge;
use crate::journal::Journals;
use crate::metrics::Metrics;
use crate::routes::{self, auth::AdminKeys, error::extractor_configs, AppState};
use crate::schedule::{queue::DeferredQueue, Scheduler};
use crate::stats::Statistics;
use crate::store::quarantine::Quarantine;
use crate::store::DataDirLock;
use crate::tracker::Tracker;

/// How long writes must be idle before the change log is folded into the document.
pub const COMPACT_IDLE: Duration = Duration::from_secs(30);

/// How often journal retention runs.
pub const RETENTION_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

pub struct Application {
    server: Server,
    port: u16,
    state: web::Data<AppState>,
    stop_tasks: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    dispatcher: JoinHandle<()>,
    _lock: DataDirLock,
}

/// Removes journal files past `RETENTION_DAYS` at startup and then once a day.
async fn retention_task(
    state: web::Data<AppState>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let today = crate::clock::business_date(state.clock.now(), state.settings.timezone);
        let (dir, days) = (
            state.settings.data_dir.clone(),
            state.settings.retention_days,
        );
        match tokio::task::spawn_blocking(move || purge(&dir, today, days)).await {
            Ok(Err(e)) => tracing::error!(error = %e, "journal retention failed"),
            Err(e) => tracing::error!(error = %e, "journal retention task failed"),
            Ok(Ok(_)) => {}
        }
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep(RETENTION_EVERY) => {}
        }
    }
}

type Built = (
    Arc<Gateway>,
    tokio::sync::mpsc::UnboundedReceiver<String>,
    Vec<String>,
);

/// What the gateway's pipeline reads.
struct Sources<'a> {
    blocklist: &'a Arc<Blocklist>,
    feeds: &'a Arc<Feeds>,
    scheduler: &'a Arc<Scheduler>,
    tracker: &'a Arc<Tracker>,
    quarantine: &'a Arc<Quarantine>,
}

/// The pipeline, outbox, call index and Bland client behind the webhooks.
async fn build_gateway(
    settings: &Arc<Settings>,
    src: Sources<'_>,
    journals: &Arc<Journals>,
    clock: &SharedClock,
) -> anyhow::Result<Built> {
    let pipeline = crate::pipeline::standard(
        src.scheduler.clone(),
        src.tracker.clone(),
        src.blocklist.clone(),
        src.feeds.clone(),
        &settings.bland,
    );
    let (outbox, ready) = Outbox::open(&settings.data_dir, clock.now(), src.quarantine)
        .context("DATA_DIR: cannot open the outbox")?;
    let (deferred, in_doubt) = DeferredQueue::open(&settings.data_dir, src.quarantine)
        .context("DATA_DIR: cannot open the deferred queue")?;
    let today = crate::clock::business_date(clock.now(), settings.timezone);
    let calls = Arc::new(CallIndex::rebuild(
        &settings.data_dir,
        today,
        src.quarantine,
    ));
    let bland = match &settings.bland.api_key {
        None => {
            tracing::warn!("no BLAND_API_KEY: dry-run mode, calls are logged and never placed");
            None
        }
        Some(key) => {
            if settings.public_base_url.is_none() {
                tracing::warn!("live mode without PUBLIC_BASE_URL: Bland is given no webhook, so call outcomes never arrive and each line stays busy until its automatic release; set PUBLIC_BASE_URL to this gateway's public URL");
            }
            Some(
                BlandClient::new(
                    &settings.bland.api_url,
                    key.clone(),
                    Duration::from_secs(settings.bland.timeout_secs),
                )
                .context("cannot build the Bland client")?,
            )
        }
    };
    let (gateway, queue) = Gateway::new(dispatch::Parts {
        pipeline,
        journals: journals.clone(),
        outbox: Arc::new(outbox),
        calls,
        deferred: Arc::new(deferred),
        scheduler: src.scheduler.clone(),
        tracker: src.tracker.clone(),
        bland,
        clock: clock.clone(),
        settings: settings.clone(),
    });
    let reconciled = gateway
        .reconcile_unconfirmed()
        .await
        .context("DATA_DIR: cannot settle calls the call journal shows as sent")?;
    if reconciled > 0 {
        tracing::info!(
            reconciled,
            "calls the outbox had as unconfirmed were already journaled as sent"
        );
    }
    gateway
        .settle_in_doubt(in_doubt)
        .await
        .context("DATA_DIR: cannot settle deferred leads whose release was interrupted")?;
    Ok((Arc::new(gateway), queue, ready))
}

async fn until_stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// Builds the application with an injected clock (tests pin time with it).
    pub async fn build_with_clock(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        let lock = DataDirLock::acquire(&settings.data_dir)?;
        let quarantine = Arc::new(
            Quarantine::open(&settings.data_dir)
                .context("DATA_DIR: cannot open the quarantine file")?,
        );
        crate::domain::phone::warm_up();
        let metrics = Arc::new(Metrics::new());
        let blocklist = Arc::new(
            Blocklist::open(
                &settings.data_dir,
                &settings.default_country,
                settings.blocklist_compact_after,
                clock.clone(),
                metrics.clone(),
            )
            .context("cannot load the blocklist; refusing to start without it")?,
        );
        let journals = Arc::new(
            Journals::open(&settings.data_dir, settings.timezone)
                .context("DATA_DIR: cannot open the journals")?,
        );
        let today = crate::clock::business_date(clock.now(), settings.timezone);
        let days: Vec<_> = [today.pred_opt(), Some(today)]
            .into_iter()
            .flatten()
            .collect();
        journals
            .restore_attempts(&days)
            .await
            .context("DATA_DIR: cannot restore the attempts journal from the call journal")?;
        let stats =
            Arc::new(Statistics::new(&settings.data_dir).with_quarantine(quarantine.clone()));
        let shared_settings = Arc::new(settings.clone());
        let feeds = Arc::new(Feeds::new(
            &settings.feeds,
            &settings.content,
            &settings.data_dir,
            &settings.default_country,
            clock.clone(),
            metrics.clone(),
        ));
        let scheduler = Arc::new(
            Scheduler::open(
                &settings.data_dir,
                settings.timezone,
                settings.lead_fields.state.clone(),
            )
            .context("cannot load the scheduler config or the calling-window rules")?,
        );
        let tracker = Arc::new(
            Tracker::open(&settings.data_dir, settings.timezone)
                .context("cannot load the answering-machine or protection config")?,
        );
        let events = tracker
            .rebuild(&settings.data_dir, clock.now(), &quarantine)
            .context("DATA_DIR: cannot rebuild the call trackers from the call journal")?;
        let (numbers, leads) = tracker.size();
        tracing::info!(
            events,
            numbers,
            leads,
            "call trackers rebuilt from the call journal"
        );
        let sources = Sources {
            blocklist: &blocklist,
            feeds: &feeds,
            scheduler: &scheduler,
            tracker: &tracker,
            quarantine: &quarantine,
        };
        let (gateway, queue, ready) =
            build_gateway(&shared_settings, sources, &journals, &clock).await?;
        let listener =
            TcpListener::bind((settings.host.as_str(), settings.port)).with_context(|| {
                format!(
                    "HOST/PORT: cannot listen on {}:{}",
                    settings.host, settings.port
                )
            })?;
        let addr = listener
            .local_addr()
            .context("HOST/PORT: no local address")?;
        let state = web::Data::new(AppState {
            admin_keys: AdminKeys::new(&settings.admin_api_keys),
            settings: shared_settings,
            clock,
            metrics,
            health: vec![
                blocklist.clone(),
                gateway.clone(),
                feeds.clone(),
                Arc::new(dispatch::SchedulerHealth(gateway.clone())),
                gateway.tracker.clone(),
                quarantine.clone(),
            ],
            quarantine,
            started: Instant::now(),
            blocklist: blocklist.clone(),
            journals,
            stats,
            gateway: gateway.clone(),
            feeds: feeds.clone(),
        });
        let max_body = settings.max_body_bytes;
        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            let (json, payload, form, query, path) = extractor_configs(max_body);
            App::new()
                .app_data(app_state.clone())
                .app_data(json)
                .app_data(payload)
                .app_data(form)
                .app_data(query)
                .app_data(path)
                .wrap(middleware::Compress::default())
                .wrap(middleware::from_fn(routes::middleware::observe))
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
        })
        .disable_signals()
        .shutdown_timeout(settings.shutdown_timeout_secs);
        if settings.workers > 0 {
            server = server.workers(settings.workers);
        }
        let server = server
            .listen(listener)
            .context("HOST/PORT: cannot listen")?
            .run();

        let (stop_tasks, stopped) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(bl_watch::watch(
                blocklist.clone(),
                settings.data_dir.clone(),
                until_stopped(stopped.clone()),
            )),
            tokio::spawn(bl_watch::maintain(
                blocklist,
                COMPACT_IDLE,
                until_stopped(stopped.clone()),
            )),
            tokio::spawn(retention_task(
                state.clone(),
                until_stopped(stopped.clone()),
            )),
            tokio::spawn(feeds.run(until_stopped(stopped.clone()))),
            tokio::spawn(dispatch::release::run(
                gateway.clone(),
                until_stopped(stopped.clone()),
            )),
        ];
        let dispatcher = tokio::spawn(dispatch::worker::run(
            gateway.clone(),
            queue,
            until_stopped(stopped),
        ));
        if !ready.is_empty() {
            tracing::info!(
                count = ready.len(),
                "sending calls left in the outbox by the previous run"
            );
        }
        gateway.enqueue(ready);
        tracing::info!(
            %addr,
            data_dir = %settings.data_dir.display(),
            timezone = settings.timezone.name(),
            mode = if settings.dry_run() { "dry_run" } else { "live" },
            admin_api = !settings.admin_api_keys.is_empty(),
            "callgate listening on {addr}"
        );
        Ok(Self {
            server,
            port: addr.port(),
            state,
            stop_tasks,
            tasks,
            dispatcher,
            _lock: lock,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server gracefully when `stop(true)` is awaited on it.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped, then shuts every component down in order.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Self {
            server,
            state,
            stop_tasks,
            tasks,
            dispatcher,
            _lock,
            ..
        } = self;
        server.await.context("HTTP server failed")?;
        // No new intake now; let sends in flight finish, then stop the background tasks.
        let _ = stop_tasks.send(true);
        let _ = dispatcher.await;
        for task in tasks {
            let _ = task.await;
        }
        if let Err(e) = state.gateway.deferred.flush().wait().await {
            tracing::error!(error = %e, "could not flush the deferred queue at shutdown");
        }
        if let Err(e) = state.gateway.outbox.flush().wait().await {
            tracing::error!(error = %e, "could not flush the outbox at shutdown");
        }
        if let Err(e) = state.journals.flush().wait().await {
            tracing::error!(error = %e, "could not flush the journals at shutdown");
        }
        let blocklist = state.blocklist.clone();
        match tokio::task::spawn_blocking(move || blocklist.compact()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "could not fold the blocklist change log at shutdown; it is replayed at the next start")
            }
            Err(e) => tracing::error!(error = %e, "shutdown compaction task failed"),
        }
        tracing::info!("callgate stopped");
        Ok(())
    }
}
