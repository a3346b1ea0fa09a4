//! Request bodies too large to hold: a do-not-call list upload (the national file is about
//! 3 GB) is read by a blocking loader as an `io::Read` while the request streams in,
//! through a bounded channel — memory stays at a few chunks. The loader sees the end of the
//! body only when the body really ended: a connection dropped mid-upload, or a handler
//! dropped with it, reads as an error, so a cut-off file is never taken for a whole one.
//! The body is always read to its end (or to [`UPLOAD_MAX`]) before the answer goes out.

use std::io;

use actix_web::web::{self, Bytes};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::error::ApiError;

/// Most bytes one streamed upload may carry.
pub const UPLOAD_MAX: u64 = 8 << 30;

/// Chunks in flight between the request and the loader.
const IN_FLIGHT: usize = 16;

/// True for the routes whose body is streamed to the handler instead of read first
/// (see `middleware`).
pub fn is_streamed(method: &actix_web::http::Method, path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/api/admin/lists/") else {
        return false;
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("PUT", [name]) => !name.is_empty() && *name != "lookup" && *name != "audit",
        ("POST", [name, "changes"]) => !name.is_empty(),
        _ => false,
    }
}

enum Piece {
    Chunk(Bytes),
    End,
    Fail(io::Error),
}

/// The loader's side: a blocking reader over the chunks.
pub struct BodyReader {
    rx: mpsc::Receiver<Piece>,
    current: Bytes,
    ended: bool,
}

impl io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Piece::Chunk(b)) => self.current = b,
                Some(Piece::End) => self.ended = true,
                Some(Piece::Fail(e)) => return Err(e),
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the upload stopped before its end",
                    ))
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// Runs `load` on the blocking pool over the streamed `payload`; returns its result and
/// the bytes received. A body over [`UPLOAD_MAX`] is 413.
pub async fn stream<T: Send + 'static>(
    mut payload: web::Payload,
    load: impl FnOnce(BodyReader) -> T + Send + 'static,
) -> Result<(T, u64), ApiError> {
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let task = web::block(move || {
        load(BodyReader {
            rx,
            current: Bytes::new(),
            ended: false,
        })
    });
    let mut total = 0u64;
    let mut listening = true;
    let mut last = Piece::End;
    while let Some(chunk) = payload.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                last = Piece::Fail(io::Error::other(format!(
                    "the upload could not be read: {e}"
                )));
                break;
            }
        };
        total += chunk.len() as u64;
        if total > UPLOAD_MAX {
            last = Piece::Fail(io::Error::other("the upload is over the limit"));
            break;
        }
        // A loader that gave up early (an unknown list) stops listening; the rest of the
        // body is still read so the answer follows it.
        if listening && tx.send(Piece::Chunk(chunk)).await.is_err() {
            listening = false;
        }
    }
    let over = total > UPLOAD_MAX;
    let _ = tx.send(last).await;
    drop(tx);
    let out = task.await.map_err(ApiError::internal)?;
    if over {
        return Err(ApiError::PayloadTooLarge(format!(
            "a list upload is limited to {UPLOAD_MAX} bytes"
        )));
    }
    Ok((out, total))
}

/// Reads and discards what is left of a body (an early refusal), up to [`UPLOAD_MAX`].
pub async fn drain(mut payload: web::Payload) {
    let mut total = 0u64;
    while let Some(Ok(chunk)) = payload.next().await {
        total += chunk.len() as u64;
        if total > UPLOAD_MAX {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::Method;

    #[test]
    fn only_list_loads_are_streamed() {
        assert!(is_streamed(&Method::PUT, "/api/admin/lists/ftc"));
        assert!(is_streamed(&Method::POST, "/api/admin/lists/ftc/changes"));
        assert!(!is_streamed(&Method::GET, "/api/admin/lists/ftc"));
        assert!(!is_streamed(&Method::POST, "/api/admin/lists/ftc"));
        assert!(!is_streamed(&Method::PUT, "/api/admin/lists/"));
        assert!(!is_streamed(&Method::PUT, "/api/admin/lists/a/b"));
        assert!(!is_streamed(&Method::POST, "/api/admin/blocklist/bulk"));
    }

    #[test]
    fn a_reader_whose_sender_vanished_without_the_end_fails() {
        use std::io::Read;
        let (tx, rx) = mpsc::channel(4);
        let mut r = BodyReader {
            rx,
            current: Bytes::new(),
            ended: false,
        };
        tx.try_send(Piece::Chunk(Bytes::from_static(b"3055551234\n")))
            .expect("send");
        drop(tx);
        let mut text = String::new();
        let err = r.read_to_string(&mut text).expect_err("no end marker");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(text, "3055551234\n");
    }
}
