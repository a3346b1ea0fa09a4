//! Do-not-call lists at national scale (issue 14), first part: the exact compact set of
//! numbers ([`set`]), the streaming readers of the files operators download ([`parse`]),
//! and what a list says about a lead — coverage, consent exemptions, the freshness gate,
//! the hit ([`rules`]). The `[[lists]]` settings are read and validated
//! ([`crate::config::lists`]). **Not wired into the pipeline yet**: loading and keeping
//! snapshots, the check itself, the API and the CLI come next.

pub mod cli;
pub mod parse;
pub mod rules;
pub mod set;
pub mod store;

pub use set::{Match, NumberSet};
pub use store::Lists;
