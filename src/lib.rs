//! # callgate
//!
//! An outbound-call gateway: a dialer (Convoso) posts leads, callgate decides whether each
//! may be called now, and only then places the call through Bland AI.
//!
//! ## Layout
//! - `main.rs` — the CLI (`serve`, `blocklist import|export`, `stats`, `check`, `migrate`);
//!   nothing else.
//! - [`config`] — settings: defaults → TOML file → environment, validated; secrets wrapped
//!   (`keys.rs` names every scalar setting; `service.rs`, `bland.rs`, `integration.rs`,
//!   `convoso.rs`, `lists.rs`, `sms.rs` read their part).
//! - [`startup`] — builds every component once for the file or the database backend
//!   (`startup/parts.rs`: the components; `startup/gateway.rs`: the gateway and its
//!   queues), starts the background tasks (`startup/tasks.rs`), binds, runs, shuts down
//!   gracefully.
//! - [`telemetry`] — the tracing subscriber (pretty or JSON).
//! - [`clock`] — the injectable clock, business-date helpers, and the records' timestamp
//!   format (`millis`: RFC 3339 with milliseconds, UTC).
//! - [`domain`] — types built only through `parse` (E.164 [`domain::PhoneNumber`], whose
//!   non-NANP path is libphonenumber's parse on the `phonenumber` crate's metadata and is
//!   tested against a table libphonenumber generated; [`domain::Lead`] with its size and
//!   nesting limits).
//! - [`pipeline`] — the ordered checks (`schedule`, `answering_machine`, `protection`,
//!   `blocklist`), each pure; the decision and its trace.
//! - [`schedule`] — the `schedule` check: business hours, the called party's local
//!   calling window (state rules and area codes as data in `rules/`), holidays, and the
//!   durable deferred queue.
//! - [`tracker`] — the `answering_machine` and `protection` checks and their state, derived
//!   from the call journal's events (rebuilt at startup); their persisted config documents.
//! - [`dispatch`] — the one place that joins the modules. The gateway is four parts with
//!   one job each over a shared [`dispatch::Ledger`] (the call journal and trackers, the
//!   outbox, the deferred queue, the calls placed, the sender's doorbell), and each
//!   handler is given only the part it calls (`web::Data<Intake>`, …):
//!   [`dispatch::Intake`] — intake and decision: one decision path (`decide`) over the
//!   decisions' storage role (`decisions::Decisions`: a unit of work under the numbers'
//!   locks — stripe mutexes and group-committed appends, or a transaction holding
//!   advisory locks), webhooks gathered into one unit when `startup/` asks for it
//!   (`batch`, the database's group commit), releases of the deferred queue (`release`)
//!   and the release task on the lease holder (`rounds`), calls other dialers placed
//!   (`external`, recorded through the same unit so they count like ours), and texts
//!   from leads and callbacks (`replies`: an opt-out flags the number through
//!   follow-ups, a callback is a deferred-queue entry the pipeline decides when due);
//!   [`dispatch::Sending`] — one dispatcher loop (`worker`) over the sender's storage role
//!   (`sends::Sends`: the ids this process was told, its slots, spacing, pause after a
//!   429 and calling budgets (`sends::budget`), or claims on shared rows under the
//!   deployment's limits, pause and budgets), the window re-check (`window`), each try
//!   (`tries`), the number each call is placed from (`callerid`: the caller-ID pool's
//!   document, its pure selection `callerid::select`, and its storage role
//!   `callerid::store::PoolCalls` — calls in memory rebuilt from the journal, or
//!   `caller_id_calls` rows taken under a per-number lock, seeded with the Node pool's
//!   history from `callerid::imported`), and the calls held for
//!   capacity (`held`);
//!   [`dispatch::FollowUps`] — completion and follow-up: the completion matched to its
//!   call (`completion`), what an outcome or a block sets off — do-not-call flags, Convoso
//!   writes through their sender (`writeback`), redials through the deferred queue
//!   (`redial`), the follow-up texts (`texts`: scheduled and cancelled here, checked and
//!   sent by `texts::send` on every instance over the storage role `texts::TextStore` —
//!   a log in `DATA_DIR/texts/`, or `texts` rows claimed so each text goes once — by the
//!   rules of the config document `texts::config`);
//!   [`dispatch::Reconciler`] — unconfirmed and silent calls looked up at the provider
//!   (`reconcile`) and an admin's resolution of a call (`resolve`).
//!   The parts depend one way: intake → follow-ups; reconciler → intake, follow-ups;
//!   every part → ledger. The storage roles under them: the deferred queue
//!   (`deferred::DeferredStore`: the file queue or rows), the outbox
//!   (`outbox::OutboxStore`: the file outbox or rows), the calls placed and their
//!   outcomes (`calls::PlacedCalls`: the call index or journal rows).
//! - [`provider`] — the call provider interface in our own types (`CallProvider`: the
//!   call body kept opaque in the outbox, place a call, the calls for a number, one call,
//!   a completion webhook read into our `Completion`, its signature). The dispatcher,
//!   reconciliation, redials and the completion webhook hold an `Arc<dyn CallProvider>`.
//!   A second provider is one new module implementing it and one branch in
//!   `startup/gateway.rs` (`call_provider`) that builds it.
//! - [`bland`] — Bland, the one provider: the client (send, list, fetch), the call body,
//!   its completion fields (`bland/completion.rs`), the trait's implementation and the
//!   webhook signature (`bland/provider.rs`). Bland's field names stay in this module.
//! - [`convoso`] — Convoso's REST client (lead update, DNC insert; token only in form
//!   bodies), the answer classes, the fields sent (`convoso/params.rs`), and the durable
//!   outbox of writes: the storage role `convoso::writes::WriteStore`, a log in
//!   `DATA_DIR` (`writes/file.rs`) or rows (`writes/rows.rs`).
//! - [`feeds`] — remote number/word feeds (fetch, refresh on the feed's lease) and the
//!   content screen; the last good copies are the storage role `feeds::FeedCopies`
//!   (`feeds/copies.rs`: a file per feed, or a row shared by every instance).
//! - [`blocklist`] — flags, their indexes, bulk formats; their storage role
//!   `blocklist::store::FlagStore` (apply a change to the index durably, follow the
//!   changes made elsewhere): the document and its change log with compaction and hot
//!   reload (`blocklist/file.rs`, `watch.rs`), or rows and their change log (`rows.rs`).
//! - [`lists`] — do-not-call lists at national scale: an exact compact number set (Roaring
//!   bitmaps), streaming readers of the FTC, plain and CSV formats (gzip, zip) whose lines
//!   are bounded however they are compressed (`lists/lines.rs`), the rules
//!   (state coverage, consent, the freshness gate), versions swapped in whole and kept as
//!   snapshots by the storage role `lists::versions::ListVersions` (files, or
//!   `list_versions` rows), shown to admins and `/health` (`lists/health.rs`); checked by
//!   `pipeline::blocklist`, each decision's trace recording the lists consulted.
//! - [`journal`] — the daily attempts and call journals by business date, retention; their
//!   storage role `journal::JournalStore` (append, read a day, keep a closed day's
//!   summary): daily files (`journal/store.rs`) or rows (`journal/rows.rs`).
//! - [`stats`] — statistics over the journals: per-day summaries (cached, kept by the
//!   journal store for closed days), the seed's blocklist statistics, pipeline statistics
//!   (`stats/calls.rs`, its CSV in `calls_csv.rs`) and the lists' proof of scrub
//!   (`stats/scrub.rs`); one path for either store.
//! - [`store`] — file-system primitives: data-dir lock, atomic writes, group-commit log,
//!   and the quarantine where every reader puts a line it cannot read back (never a silent
//!   skip); admin-editable JSON documents (`document`: partial `PUT`, field-named errors)
//!   over their storage role (`doc_store::DocumentStore`: a file each, or a versioned row
//!   in PostgreSQL followed through `NOTIFY`); who runs a singleton job
//!   (`lease::Leases`: the one locked process, or rows); [`store::StoreError`], a role's failure
//!   with the database as its own variant up to `routes/error.rs` (503 there), and
//!   `store::Pending`, a write's durability resolving with it.
//! - [`db`] — PostgreSQL storage, the backend `DATABASE_URL` selects (several instances on
//!   one database): the pool, the schema migrations embedded from `migrations/`, and a
//!   module per kind of state (flags and their change log, journal rows and rollups, the
//!   outbox and deferred queue with claims, per-number decision locks, documents, feed
//!   copies, leases), plus `scratch` databases for tests. sqlx lives here and nowhere else.
//!   Each storage role's implementation is picked when it is built (`startup/`); the
//!   checks never know which.
//! - [`console`] — the ops console's static files (`console/` at the repository root,
//!   embedded with `include_bytes!`), served under `/console`; it only calls the admin API.
//! - [`health`], [`metrics`] — component health and the per-server Prometheus registry
//!   (`/health` is the operator's view; `/health/ready`, in `routes/system.rs`, is only
//!   "can this instance take a webhook durably", for load balancers, which the storage
//!   probe `store::probe::StorageProbe` answers: files or database).
//! - [`routes`] — actix handlers, the JSON error body, request ids (always ours; a caller's
//!   is a correlation id), the body read before any answer (list uploads stream instead:
//!   `upload`), admin auth, lookups, inbound texts and callbacks (`sms`) and the texts'
//!   config (`texts`), the OpenAPI document (`openapi`; the answers' shapes, documentation only: the seed's
//!   in `schemas`, the operational ones in `schemas_ops` and `schemas_admin`).
//! - [`sms`] — texts, pure: what an inbound text asks for (`sms::words`: opt-out and
//!   callback words by whole word).
//! - [`cli`] — offline/remote admin commands (`cli/check.rs`: `check`; `cli/lists.rs`:
//!   `lists import|lookup`); [`migrate`] — import from the Node version (`flags.rs`,
//!   `attempts.rs`, `queue.rs`, `pool.rs`), and `--to-database` (a file data directory copied into
//!   PostgreSQL).
//!
//! ## Dependency rule
//! `routes`, `console`, `startup`, `cli`, `migrate` → `dispatch` → `pipeline`, `schedule`, `tracker`,
//! `blocklist`, `lists`, `journal`, `stats`, `bland`, `convoso`, `feeds`, `sms` → `store` → `db`,
//! `domain`, `clock`; `dispatch` and `bland` → `provider` (our call types, which borrow
//! `journal::Outcome`). `config` (settings), `health` (the `HealthSource` trait and its
//! report) and `metrics` (the registry) are leaves every layer may use; `telemetry` is
//! used by `main.rs` alone. Imports go down only (the timestamp format of every record, `clock::millis`, is the
//! clock's), with one knot: the checks (`schedule`, `tracker::checks`,
//! `pipeline::blocklist`) implement `pipeline::Check`, and `pipeline::standard()` assembles
//! them (the blocklist check reads `lists` and the area-code table of `schedule::rules`;
//! the trace carries `lists::ListUse`). actix lives in `routes`, `console` and `startup`, reqwest in
//! `bland`, `convoso`, `feeds` and `cli`.
//! Reference data ships in `rules/` (state rules, area codes and their notice).
//!
//! ## Deviations from STYLE.md, and why
//! - Metrics use `prometheus-client` (a registry per server) instead of the `metrics`
//!   crate's process-global recorder, so several servers run in one test process and
//!   each `/metrics` shows only its own numbers.
//! - The blocklist's file formats (`blocklist/persist.rs`) sit beside the blocklist: they
//!   describe *what* is stored; the syscalls (atomic write, group commit, lock) are in
//!   [`store`].

#![forbid(unsafe_code)]

pub mod bland;
pub mod blocklist;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod convoso;
pub mod db;
pub mod dispatch;
pub mod domain;
pub mod feeds;
pub mod health;
pub mod journal;
pub mod lists;
pub mod metrics;
pub mod migrate;
pub mod pipeline;
pub mod provider;
pub mod routes;
pub mod schedule;
pub mod sms;
pub mod startup;
pub mod stats;
pub mod store;
pub mod telemetry;
pub mod tracker;
