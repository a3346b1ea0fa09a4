//! Reading do-not-call list files as they are downloaded, streaming (a line at a time, so a
//! 3 GB national file never sits in memory): the FTC full list (`3055551234` or
//! `305,5551234` per line), the FTC change list (number, date/time, `A` added / `D`
//! deleted), and plain lists (any spelling the phone parser accepts, plus `305*` /
//! `305555*` prefixes where the list allows them). No line is held past
//! [`super::lines::MAX_LINE`] bytes, compressed or not. A malformed line is counted and the
//! first 100 are kept with their line numbers; a file with more than 1 % of them, or with
//! no entry at all, is refused and the list keeps its previous version.

use std::io::{self, BufRead, Read};

use super::formats;
use super::lines::BoundedLines;
use super::set::{national, NumberSet};

pub use super::report::{InvalidLine, LoadError, Report, MAX_REPORTED};

/// One entry of a full or plain list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Number(u64),
    Prefix(u32),
}

/// `3055551234`, `305,5551234`, `305-555-1234`: the FTC's spellings, fast, no allocation.
fn ftc_number(text: &str) -> Option<u64> {
    let mut n: u64 = 0;
    let mut digits = 0;
    for b in text.bytes() {
        match b {
            b'0'..=b'9' => {
                n = n * 10 + u64::from(b - b'0');
                digits += 1;
                if digits > 10 {
                    return None;
                }
            }
            b',' | b'-' | b' ' | b'\t' | b'"' => {}
            _ => return None,
        }
    }
    (digits == 10 && n >= 2_000_000_000).then_some(n)
}

/// Why a line of a list is not an entry (counted and shown as a malformed line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("prefixes are only allowed in internal_dnc and custom lists")]
    PrefixNotAllowed,
    #[error("a prefix is an area code (`305*`) or an area code and exchange (`305555*`)")]
    BadPrefix,
    #[error("{0}")]
    Phone(String),
    #[error("not a North American number")]
    NotNanp,
}

/// An entry of a plain list: an FTC spelling, a prefix (when allowed), or any spelling of a
/// NANP number the phone parser accepts.
pub fn entry(text: &str, prefixes: bool) -> Result<Entry, EntryError> {
    let t = text.trim();
    if let Some(n) = ftc_number(t) {
        return Ok(Entry::Number(n));
    }
    if let Some(p) = t.strip_suffix('*') {
        if !prefixes {
            return Err(EntryError::PrefixNotAllowed);
        }
        let digits = p.trim();
        return match (digits.len(), digits.parse::<u32>()) {
            (3 | 6, Ok(n)) if !digits.starts_with(['0', '1']) => Ok(Entry::Prefix(n)),
            _ => Err(EntryError::BadPrefix),
        };
    }
    let phone =
        crate::domain::PhoneNumber::parse(t, "US").map_err(|e| EntryError::Phone(e.to_string()))?;
    national(phone.as_str())
        .map(Entry::Number)
        .ok_or(EntryError::NotNanp)
}

/// Builds a new set from one or more parts (the entries of a zip archive) of a full,
/// plain or CSV list.
pub struct ListReader {
    set: NumberSet,
    report: Report,
    prefixes: bool,
}

impl ListReader {
    pub fn new(prefixes: bool) -> Self {
        Self {
            set: NumberSet::new(),
            report: Report::default(),
            prefixes,
        }
    }

    fn add(&mut self, n: u64, text: &str) {
        match entry(text, self.prefixes) {
            Ok(Entry::Number(x)) => {
                self.set.insert(x);
                self.report.entries += 1;
            }
            Ok(Entry::Prefix(p)) => {
                self.set.insert_prefix(p);
                self.report.entries += 1;
            }
            Err(e) => self.report.bad(n, text, &e.to_string()),
        }
    }

    /// Reads one part: a CSV file when its first line is a header naming a phone column
    /// (or `column`), else one entry per line.
    pub fn part(
        &mut self,
        name: Option<&str>,
        input: impl BufRead,
        column: Option<&str>,
    ) -> Result<(), LoadError> {
        self.report.part = name.map(str::to_string);
        let (first, rest) = formats::first_line(BoundedLines::new(input))?;
        match formats::csv_header(&first, column)? {
            Some(col) => {
                let input = io::Cursor::new(first).chain(rest);
                formats::for_each_csv(input, col, |n, text| self.add(n, text))?;
            }
            None => for_each_line(io::Cursor::new(first).chain(rest), |n, text| {
                self.add(n, text)
            })?,
        }
        Ok(())
    }

    /// The set, or the refusal (empty, or more than 1 % malformed).
    pub fn finish(self) -> Result<(NumberSet, Report), LoadError> {
        Ok((self.set, self.report.accept()?))
    }
}

/// Reads a full or plain list into a new set.
pub fn read_list(input: impl BufRead, prefixes: bool) -> Result<(NumberSet, Report), LoadError> {
    let mut reader = ListReader::new(prefixes);
    reader.part(None, input, None)?;
    reader.finish()
}

/// What a change list did.
#[derive(Debug, Default)]
pub struct Changes {
    pub added: u64,
    pub deleted: u64,
    pub report: Report,
}

/// Applies FTC change lists (`number,date time,A|D` per line; the number may be
/// `NPA,NUMBER`), part by part, to a copy of the version in force; the caller swaps the
/// result in whole.
pub struct ChangeReader {
    set: NumberSet,
    changes: Changes,
}

impl ChangeReader {
    pub fn new(base: &NumberSet) -> Self {
        Self {
            set: base.clone(),
            changes: Changes::default(),
        }
    }

    pub fn part(&mut self, name: Option<&str>, input: impl BufRead) -> Result<(), LoadError> {
        self.changes.report.part = name.map(str::to_string);
        let (set, changes) = (&mut self.set, &mut self.changes);
        for_each_line(BoundedLines::new(input), |n, text| {
            change(set, changes, n, text)
        })?;
        Ok(())
    }

    pub fn finish(mut self) -> Result<(NumberSet, Changes), LoadError> {
        self.changes.report = self.changes.report.accept()?;
        Ok((self.set, self.changes))
    }
}

fn change(set: &mut NumberSet, changes: &mut Changes, n: u64, text: &str) {
    let (rest, flag) = match text.trim().rsplit_once(',') {
        Some((rest, flag)) => (rest, flag.trim()),
        None => {
            changes.report.bad(n, text, "expected number,date,A|D");
            return;
        }
    };
    // The number is what comes before the date: one field, or area code and number.
    let fields: Vec<&str> = rest.split(',').map(str::trim).collect();
    let number = match fields.as_slice() {
        [number, _date] => ftc_number(number),
        [area, number, _date] => ftc_number(&format!("{area}{number}")),
        _ => None,
    };
    match (number, flag) {
        (Some(x), "A" | "a") => {
            set.insert(x);
            changes.added += 1;
            changes.report.entries += 1;
        }
        (Some(x), "D" | "d") => {
            set.remove(x);
            changes.deleted += 1;
            changes.report.entries += 1;
        }
        (None, _) => changes.report.bad(n, text, "not a ten-digit number"),
        (Some(_), _) => changes.report.bad(n, text, "the last field must be A or D"),
    }
}

/// Applies one change list to a copy of `base`.
pub fn apply_changes(
    base: &NumberSet,
    input: impl BufRead,
) -> Result<(NumberSet, Changes), LoadError> {
    let mut reader = ChangeReader::new(base);
    reader.part(None, input)?;
    reader.finish()
}

/// Calls `f` with each non-blank line and its number (from 1), a line at a time. A line
/// that is not UTF-8 is reported by `f` like any malformed line.
fn for_each_line(mut input: impl BufRead, mut f: impl FnMut(u64, &str)) -> io::Result<()> {
    let mut buf = Vec::with_capacity(64);
    let mut n = 0u64;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        n += 1;
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        f(n, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::set::Match;

    #[test]
    fn ftc_full_list_in_both_spellings() {
        let file = "3055551234\n305,5551235\n\n212-555-0000\r\n";
        let (set, report) = read_list(file.as_bytes(), false).expect("loads");
        assert_eq!(report.entries, 3);
        assert_eq!(set.len(), 3);
        for n in [3055551234, 3055551235, 2125550000] {
            assert_eq!(set.lookup(n), Some(Match::Number));
        }
    }

    #[test]
    fn plain_lists_take_any_spelling_and_prefixes_only_where_allowed() {
        let file = "(305) 555-1234\n+1 404 555 0000\n212*\n786555*\n";
        let (set, _) = read_list(file.as_bytes(), true).expect("loads");
        assert_eq!(set.lookup(3055551234), Some(Match::Number));
        assert_eq!(set.lookup(4045550000), Some(Match::Number));
        assert_eq!(set.lookup(2129999999), Some(Match::Prefix(212)));
        assert_eq!(set.lookup(7865550001), Some(Match::Prefix(786555)));
        let err = read_list("212*\n".as_bytes(), false).expect_err("no prefixes");
        assert!(err.to_string().contains("no valid entry"), "{err}");
    }

    #[test]
    fn malformed_lines_are_listed_and_more_than_one_percent_refuses_the_file() {
        let mut file: String = (0..200).map(|i| format!("305555{i:04}\n")).collect();
        file.push_str("hello\n");
        let (_, report) = read_list(file.as_bytes(), false).expect("0.5 % is accepted");
        assert_eq!(report.invalid, 1);
        assert_eq!(report.invalid_lines[0].line, 201);
        assert_eq!(report.invalid_lines[0].text, "hello");
        file.push_str("nope\nnada\n");
        match read_list(file.as_bytes(), false) {
            Err(LoadError::Refused { why, report }) => {
                assert!(why.contains("more than 1 %"), "{why}");
                assert_eq!(report.invalid, 3);
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(read_list("".as_bytes(), false).is_err(), "an empty file");
    }

    #[test]
    fn a_change_list_adds_and_deletes_on_a_copy() {
        let (base, _) = read_list("3055551234\n3055551235\n".as_bytes(), false).expect("base");
        let changes = "3055551236,2026-11-28 10:00:00,A\n305,5551234,2026-11-28 10:01:00,D\n";
        let (next, c) = apply_changes(&base, changes.as_bytes()).expect("applies");
        assert_eq!((c.added, c.deleted), (1, 1));
        assert_eq!(next.lookup(3055551236), Some(Match::Number));
        assert_eq!(next.lookup(3055551234), None);
        assert_eq!(next.lookup(3055551235), Some(Match::Number));
        // The version in force is untouched until the caller swaps.
        assert_eq!(base.lookup(3055551234), Some(Match::Number));
        let bad = apply_changes(&base, "3055551236,2026-11-28,X\n".as_bytes());
        assert!(bad.is_err());
    }
}
