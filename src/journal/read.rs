//! Reading the journals back: whole days, the lines containing a needle, the events the
//! trackers replay. A line that cannot be read (not a torn write) is kept aside in the
//! quarantine when one is given, never skipped in silence.

use std::io;
use std::path::Path;

use serde_json::Value;

use super::{read_or_empty, CallEvent, DayRecords};

/// Calls `f` with every accepted decision, dispatch and outcome in the call journal at
/// `path`, in order; other lines are not parsed. Returns how many there were.
///
/// A selected line that does not parse is kept aside in `quarantine` (see
/// [`crate::store::quarantine`]), never skipped in silence.
pub fn for_each_call(
    path: &Path,
    quarantine: &crate::store::quarantine::Quarantine,
    f: impl FnMut(CallEvent),
) -> io::Result<usize> {
    let bytes = read_or_empty(path)?;
    Ok(each_call_in(path, &bytes, quarantine, f))
}

/// [`for_each_call`] over lines already read (`path` names them in the quarantine).
pub fn each_call_in(
    path: &Path,
    bytes: &[u8],
    quarantine: &crate::store::quarantine::Quarantine,
    mut f: impl FnMut(CallEvent),
) -> usize {
    let finders = [
        memchr::memmem::Finder::new(b"\"decision\":\"accepted\""),
        memchr::memmem::Finder::new(b"\"event\":\"dispatch\""),
        memchr::memmem::Finder::new(b"\"event\":\"outcome\""),
        memchr::memmem::Finder::new(b"\"event\":\"external\""),
        memchr::memmem::Finder::new(b"\"event\":\"reply\""),
    ];
    let mut n = 0;
    let select = |l: &[u8]| finders.iter().any(|f| f.find(l).is_some());
    quarantine.parse_selected::<CallEvent>(path, bytes, select, |event| {
        f(event);
        n += 1;
    });
    n
}

/// The lines of the journal at `path` that contain `needle`, parsed (others are not). One
/// that cannot be read (not a torn write) is kept aside in `quarantine` when one is given.
pub fn lines_containing(
    path: &Path,
    needle: &str,
    quarantine: Option<&crate::store::quarantine::Quarantine>,
) -> io::Result<Vec<Value>> {
    let bytes = read_or_empty(path)?;
    Ok(select_lines(path, &bytes, needle, quarantine))
}

pub(super) fn select_lines(
    path: &Path,
    bytes: &[u8],
    needle: &str,
    quarantine: Option<&crate::store::quarantine::Quarantine>,
) -> Vec<Value> {
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    let fallback = crate::store::quarantine::Quarantine::in_memory();
    let mut out = Vec::new();
    quarantine.unwrap_or(&fallback).parse_selected(
        path,
        bytes,
        |l| finder.find(l).is_some(),
        |v| out.push(v),
    );
    out
}

/// Reads one day's journal; a missing file is an empty day. A line that cannot be read
/// (not a torn write) is kept aside in `quarantine` when one is given.
pub fn read_day(
    path: &Path,
    quarantine: Option<&crate::store::quarantine::Quarantine>,
) -> io::Result<DayRecords> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(DayRecords::default()),
        Err(e) => return Err(e),
    };
    Ok(parse_day(path, &bytes, quarantine))
}

pub(super) fn parse_day(
    path: &Path,
    bytes: &[u8],
    quarantine: Option<&crate::store::quarantine::Quarantine>,
) -> DayRecords {
    let mut records = Vec::new();
    let fallback = crate::store::quarantine::Quarantine::in_memory();
    let torn = quarantine
        .unwrap_or(&fallback)
        .parse_lines(path, bytes, |v| records.push(v));
    if torn > 0 {
        tracing::warn!(file = %path.display(), torn, "skipped a torn last journal line (crash mid-write)");
    }
    DayRecords { records, torn }
}
