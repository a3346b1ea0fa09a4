//! What a list load reports (the entries read, the malformed lines kept with their line
//! numbers) and why one is refused: shared by the file formats ([`super::formats`]) and
//! the readers ([`super::parse`]), which import it and not each other both ways.

use std::io;

use serde::Serialize;

/// Most malformed lines reported back.
pub const MAX_REPORTED: usize = 100;

/// A bad line, as reported to the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidLine {
    /// The file inside a zip archive the line is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub line: u64,
    pub text: String,
    pub error: String,
}

/// What a load read.
#[derive(Debug, Default)]
pub struct Report {
    pub entries: u64,
    pub invalid: u64,
    pub invalid_lines: Vec<InvalidLine>,
    /// The part being read (an entry of a zip archive), for the lines reported.
    pub(super) part: Option<String>,
}

impl Report {
    pub(super) fn bad(&mut self, line: u64, text: &str, error: &str) {
        self.invalid += 1;
        if self.invalid_lines.len() < MAX_REPORTED {
            self.invalid_lines.push(InvalidLine {
                file: self.part.clone(),
                line,
                text: text.chars().take(200).collect(),
                error: error.to_string(),
            });
        }
    }

    /// Refuses an empty file, or one with more than 1 % malformed lines.
    pub(super) fn accept(self) -> Result<Self, LoadError> {
        if self.entries == 0 {
            return Err(LoadError::Refused {
                why: "the file has no valid entry (an empty list is not a current list)".into(),
                report: self,
            });
        }
        if self.invalid * 100 > self.entries + self.invalid {
            return Err(LoadError::Refused {
                why: format!(
                    "{} of {} lines are malformed (more than 1 %)",
                    self.invalid,
                    self.entries + self.invalid
                ),
                report: self,
            });
        }
        Ok(self)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{why}")]
    Refused { why: String, report: Report },
    /// The file could not be read to its end (a cut-off upload, a corrupt gzip stream).
    #[error("the file could not be read to its end: {0}")]
    Io(#[from] io::Error),
    /// The file is not in a format we read.
    #[error("{0}")]
    Unreadable(String),
    /// Our own storage failed while reading (the copy of a zip archive).
    #[error("could not keep a working copy: {0}")]
    Storage(io::Error),
}
