//! Lines of bounded length for the list readers. A list upload is read a line at a time,
//! and compression makes a huge line cheap to send (a 2 MB gzip can expand to one 2 GB
//! line), so no line is ever held past [`MAX_LINE`] bytes: the rest of an overlong line is
//! read and dropped as it streams by, and the line is handed on as [`TOO_LONG`], which the
//! readers report as a malformed line like any other.

use std::io::{self, BufRead, Read};

/// The longest line a list reader holds: far above any phone-number or CSV row of a list.
pub const MAX_LINE: usize = 16 * 1024;

/// What an overlong line becomes (not a number, so it is reported as malformed).
pub const TOO_LONG: &[u8] = b"(a line longer than 16 KiB, not read)\n";

/// A `BufRead` over `inner` whose lines are at most [`MAX_LINE`] bytes.
pub struct BoundedLines<R> {
    inner: R,
    line: Vec<u8>,
    pos: usize,
    cap: usize,
}

impl<R: BufRead> BoundedLines<R> {
    pub fn new(inner: R) -> Self {
        Self::with_cap(inner, MAX_LINE)
    }

    fn with_cap(inner: R, cap: usize) -> Self {
        Self {
            inner,
            line: Vec::with_capacity(256),
            pos: 0,
            cap,
        }
    }

    /// Reads the next line (with its newline) into `self.line`; false at the end.
    fn next_line(&mut self) -> io::Result<bool> {
        self.line.clear();
        self.pos = 0;
        let (mut any, mut long) = (false, false);
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if !long && self.line.len() + take <= self.cap {
                self.line.extend_from_slice(&buf[..take]);
            } else {
                long = true;
            }
            self.inner.consume(take);
            if done {
                break;
            }
        }
        if long {
            self.line.clear();
            self.line.extend_from_slice(TOO_LONG);
        }
        Ok(any)
    }
}

impl<R: BufRead> BufRead for BoundedLines<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.line.len() && !self.next_line()? {
            return Ok(&[]);
        }
        Ok(&self.line[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.line.len());
    }
}

impl<R: BufRead> Read for BoundedLines<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buf = self.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_pass_and_an_overlong_one_is_replaced_without_being_held() {
        let long = "9".repeat(100);
        let input = format!("3055551234\n{long}\n3055551235");
        let mut r = BoundedLines::with_cap(io::BufReader::with_capacity(8, input.as_bytes()), 20);
        let mut out = String::new();
        r.read_to_string(&mut out).expect("read");
        let too_long = String::from_utf8_lossy(TOO_LONG);
        assert_eq!(out, format!("3055551234\n{too_long}3055551235"));
        assert!(r.line.capacity() < 300, "the long line was never held");
    }
}
