//! Do-not-call lists at national scale (issue 14), first part: the exact compact set of
//! numbers ([`set`]) and the streaming readers of the files operators download
//! ([`parse`]). **Not wired into the pipeline yet**: the configured lists, their
//! snapshots, freshness gates, exemptions, API and CLI come next.

pub mod parse;
pub mod set;

pub use set::{Match, NumberSet};
