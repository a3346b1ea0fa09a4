//! One test binary for every API test (see `helpers.rs` for the harness).

mod blocklist;
mod blocklist_bulk;
mod blocklist_files;
mod console;
mod convoso;
mod convoso_process;
mod dispatch;
mod feeds;
mod hardening;
mod helpers;
mod intake;
mod journals;
mod lists;
mod lists_formats;
mod pipeline_stats;
mod process;
mod protection;
mod reconcile;
mod redials;
mod scheduler;
mod shared;
mod shared_dispatch;
mod shared_failures;
mod shared_loop;
mod system;
mod to_database;
