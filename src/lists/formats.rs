//! What an operator's file comes wrapped in, detected from its first bytes: gzip (read
//! through a streaming decoder), zip (copied to an anonymous temporary file beside the
//! snapshots — a zip's index is at its end — then read entry by entry: the FTC ships one
//! file per area code), or nothing. Never held whole in memory. The date a list was
//! downloaded is taken, when the operator does not give it, from a date in the file's name
//! (`2026-11-28`, `20261128`) or from the newest entry of a zip archive. A part whose first
//! line has a letter in it is CSV, its header naming the phone column.

use std::io::{self, BufRead, BufReader, Read, Seek};
use std::path::Path;
use std::sync::LazyLock;

use chrono::NaiveDate;

use super::report::LoadError;

/// Buffer for reading list files: large, so the line reader seldom refills.
const BUFFER: usize = 1 << 20;

/// One part of a file: its name inside a zip archive, and its lines.
pub type Part<'a> = (Option<&'a str>, &'a mut dyn BufRead);

/// Calls `each` with every part of `input` (the file, its gunzipped contents, or each file
/// in a zip archive); returns the newest modification date of a zip's entries.
pub fn for_each_part(
    mut input: impl Read,
    spool: &Path,
    mut each: impl FnMut(Part<'_>) -> Result<(), LoadError>,
) -> Result<Option<NaiveDate>, LoadError> {
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < magic.len() {
        match input.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let whole = io::Cursor::new(magic[..got].to_vec()).chain(input);
    match &magic[..got] {
        [0x1f, 0x8b, ..] => {
            let mut lines =
                BufReader::with_capacity(BUFFER, flate2::read::MultiGzDecoder::new(whole));
            each((None, &mut lines))?;
            Ok(None)
        }
        [b'P', b'K', 3, 4] | [b'P', b'K', 5, 6] => zip_parts(whole, spool, each),
        _ => {
            let mut lines = BufReader::with_capacity(BUFFER, whole);
            each((None, &mut lines))?;
            Ok(None)
        }
    }
}

fn zip_parts(
    mut whole: impl Read,
    spool: &Path,
    mut each: impl FnMut(Part<'_>) -> Result<(), LoadError>,
) -> Result<Option<NaiveDate>, LoadError> {
    std::fs::create_dir_all(spool).map_err(LoadError::Storage)?;
    let mut file = tempfile::tempfile_in(spool).map_err(LoadError::Storage)?;
    io::copy(&mut whole, &mut file).map_err(|e| match e.kind() {
        // Writing the copy is ours to fix; reading the upload is the sender's.
        io::ErrorKind::StorageFull | io::ErrorKind::PermissionDenied => LoadError::Storage(e),
        _ => LoadError::Io(e),
    })?;
    file.rewind().map_err(LoadError::Storage)?;
    let unreadable = |e: zip::result::ZipError| {
        LoadError::Unreadable(format!("not a readable zip archive: {e}"))
    };
    let mut archive = zip::ZipArchive::new(file).map_err(unreadable)?;
    let mut newest: Option<NaiveDate> = None;
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(unreadable)?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().map_err(unreadable)?.to_string();
        if let Some(d) = entry.last_modified().and_then(|t| {
            NaiveDate::from_ymd_opt(
                i32::from(t.year()),
                u32::from(t.month()),
                u32::from(t.day()),
            )
        }) {
            newest = newest.max(Some(d));
        }
        let mut lines = BufReader::with_capacity(BUFFER, entry);
        each((Some(&name), &mut lines))?;
    }
    Ok(newest)
}

static DATE_IN_NAME: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"(?:^|[^0-9])(20[0-9]{2})-?([01][0-9])-?([0-3][0-9])(?:[^0-9]|$)")
        .unwrap_or_else(|_| unreachable!("a fixed pattern"))
});

/// A date written in a file's name (`dnc_2026-11-28.zip`, `ftc-20261128.txt`).
pub fn date_in_name(name: &str) -> Option<NaiveDate> {
    let c = DATE_IN_NAME.captures(name)?;
    NaiveDate::from_ymd_opt(c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?)
}

/// Header names taken for the phone column, compared without case, spaces or `_`.
const PHONE_COLUMNS: [&str; 7] = [
    "phone",
    "phonenumber",
    "number",
    "telephone",
    "tel",
    "mobile",
    "dnc",
];

/// The first line of `input` (with its end) and the rest.
pub(super) fn first_line<R: BufRead>(mut input: R) -> io::Result<(Vec<u8>, R)> {
    let mut first = Vec::with_capacity(128);
    input.read_until(b'\n', &mut first)?;
    Ok((first, input))
}

/// The phone column's index when `first` is a CSV header: a line with a letter in it
/// (numbers and prefixes have none). A header naming no phone column is refused.
pub(super) fn csv_header(first: &[u8], column: Option<&str>) -> Result<Option<usize>, LoadError> {
    if !first.iter().any(u8::is_ascii_alphabetic) {
        return Ok(None);
    }
    let norm = |s: &str| -> String {
        s.trim()
            .trim_matches('"')
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .collect::<String>()
            .to_ascii_lowercase()
    };
    let line = String::from_utf8_lossy(first);
    let names: Vec<String> = line.trim_end().split(',').map(norm).collect();
    let found = match column {
        Some(c) => names.iter().position(|n| *n == norm(c)),
        None => PHONE_COLUMNS
            .iter()
            .find_map(|want| names.iter().position(|n| n == want)),
    };
    match found {
        Some(i) => Ok(Some(i)),
        None => Err(LoadError::Refused {
            why: match column {
                Some(c) => format!("the CSV header has no column `{c}`"),
                None => "the first line is not a number and names no phone column \
                         (phone, phone_number, number, telephone); give ?column= or --column"
                    .to_string(),
            },
            report: super::report::Report::default(),
        }),
    }
}

/// Calls `f` with column `col` of each CSV record after the header and its line number.
pub(super) fn for_each_csv(
    input: impl io::Read,
    col: usize,
    mut f: impl FnMut(u64, &str),
) -> io::Result<()> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(input);
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                let text = String::from_utf8_lossy(record.get(col).unwrap_or_default());
                if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                    continue;
                }
                f(line, &text);
            }
            Err(e) => match e.kind() {
                csv::ErrorKind::Io(_) => {
                    return Err(match e.into_kind() {
                        csv::ErrorKind::Io(io) => io,
                        _ => io::Error::other("csv"),
                    })
                }
                _ => {
                    let line = e.position().map_or(0, |p| p.line());
                    f(line, &format!("(unreadable CSV record: {e})"));
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn parts(bytes: &[u8]) -> (Vec<(Option<String>, String)>, Option<NaiveDate>) {
        let dir = tempfile::tempdir().expect("dir");
        let mut seen = Vec::new();
        let date = for_each_part(bytes, dir.path(), |(name, lines)| {
            let mut text = String::new();
            lines.read_to_string(&mut text)?;
            seen.push((name.map(str::to_string), text));
            Ok(())
        })
        .expect("reads");
        (seen, date)
    }

    #[test]
    fn plain_gzip_and_zip_are_told_apart_by_their_first_bytes() {
        assert_eq!(parts(b"305").0, vec![(None, "305".to_string())]);
        assert_eq!(parts(b"").0, vec![(None, String::new())]);

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"3055551234\n").expect("gz");
        let gz = gz.finish().expect("gz");
        assert_eq!(parts(&gz).0, vec![(None, "3055551234\n".to_string())]);

        let mut zip = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        let when = zip::DateTime::from_date_and_time(2026, 11, 28, 9, 0, 0).expect("time");
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(when);
        zip.start_file("305.txt", opts).expect("entry");
        zip.write_all(b"305,5551234\n").expect("write");
        zip.start_file("212.txt", opts).expect("entry");
        zip.write_all(b"212,5550000\n").expect("write");
        let bytes = zip.finish().expect("zip").into_inner();
        let (seen, date) = parts(&bytes);
        assert_eq!(
            seen,
            vec![
                (Some("305.txt".into()), "305,5551234\n".into()),
                (Some("212.txt".into()), "212,5550000\n".into())
            ]
        );
        assert_eq!(date, "2026-11-28".parse().ok());
    }

    #[test]
    fn a_truncated_zip_is_refused_not_read_in_part() {
        let dir = tempfile::tempdir().expect("dir");
        let err =
            for_each_part(&b"PK\x03\x04garbage"[..], dir.path(), |_| Ok(())).expect_err("refused");
        assert!(err.to_string().contains("zip"), "{err}");
    }

    #[test]
    fn dates_in_file_names() {
        assert_eq!(
            date_in_name("dnc_2026-11-28.zip"),
            "2026-11-28".parse().ok()
        );
        assert_eq!(date_in_name("ftc-20261128.txt"), "2026-11-28".parse().ok());
        assert_eq!(date_in_name("305.txt"), None);
        assert_eq!(date_in_name("2026-13-45.txt"), None);
    }
}
