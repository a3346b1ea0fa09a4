//! Do-not-call lists at national scale: the exact compact set of numbers ([`set`]), the
//! streaming readers of the files operators download ([`parse`], [`formats`]), what a list
//! says about a lead — coverage, consent exemptions, the freshness gate, the hit
//! ([`rules`]) — and what a decision records of it ([`record`]); the versions in force and
//! their snapshots ([`store`]; what admins and `/health` see of them in `health.rs`), kept by the storage role [`versions::ListVersions`] (files,
//! or rows shared by every instance). The proof of scrub is folded from the journals in
//! `stats::scrub`. The `[[lists]]`
//! settings are read and validated in [`crate::config::lists`]; the check is
//! `pipeline::blocklist`.

pub mod formats;
mod health;
pub mod lines;
mod load;
pub mod parse;
pub mod record;
pub mod report;
pub mod rules;
pub mod set;
pub mod store;
pub mod versions;

pub use load::ReplaceError;
pub use record::{ListResult, ListUse};
pub use set::{Match, NumberSet};
pub use store::Lists;

#[cfg(test)]
mod tests;
