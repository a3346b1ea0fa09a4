//! Group-commit append log: one thread owns the files; callers enqueue records in order and
//! await durability. Every record that arrived while the previous `fsync` ran is written
//! and synced together, so N concurrent writers cost one sync, not N. One writer can serve
//! several files (the daily journals write to the current day's file).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

pub use super::pending::Pending;
use super::StoreError;

/// Most records written under one sync.
const MAX_BATCH: usize = 8192;

type Reply = oneshot::Sender<Result<(), StoreError>>;

/// Most files kept open at once (today's, and yesterday's for records near midnight).
const MAX_OPEN: usize = 4;

enum Cmd {
    Append(PathBuf, Vec<u8>, Option<Reply>),
    /// Several records (possibly for several files) written together, one reply. Each
    /// record says whether its file must be synced before the reply.
    AppendMany(Vec<(PathBuf, Vec<u8>, bool)>, Reply),
    /// Sync, rename the live file to the given path, and start a new empty live file.
    Rotate(PathBuf, Reply),
    Flush(Reply),
}

/// Handle to the writer thread. Dropping it flushes and stops the thread.
pub struct Appender {
    tx: Option<mpsc::Sender<Cmd>>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl Appender {
    /// Opens (creating) `path` for appending and starts the writer thread.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = open_append(path)?;
        let (tx, rx) = mpsc::channel();
        let mut files = HashMap::new();
        files.insert(path.to_path_buf(), file);
        let thread = std::thread::Builder::new()
            .name("callgate-journal".into())
            .spawn(move || writer_loop(files, rx))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            path: path.to_path_buf(),
        })
    }

    /// A writer with no main file: every record names its file (`append_to`).
    pub fn detached() -> io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("callgate-journal".into())
            .spawn(move || writer_loop(HashMap::new(), rx))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            path: PathBuf::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Enqueues one record (a trailing newline is added). Order of calls is file order.
    pub fn append(&self, record: Vec<u8>) -> Pending {
        self.append_to(self.path.clone(), record)
    }

    /// Enqueues one record for another file (created if missing).
    pub fn append_to(&self, path: PathBuf, mut record: Vec<u8>) -> Pending {
        record.push(b'\n');
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Append(path, record, Some(reply)));
        Pending::from_receiver(rx)
    }

    /// Enqueues records for several files with a single reply, resolved once every record
    /// is written and every file whose record asks for it (`sync: true`) is synced. A
    /// written but unsynced record survives the process being killed (it is in the page
    /// cache), not a power cut; callers pair it with a synced record they can rebuild from.
    pub fn append_many(&self, records: Vec<(PathBuf, Vec<u8>, bool)>) -> Pending {
        let records = records
            .into_iter()
            .map(|(path, mut bytes, sync)| {
                bytes.push(b'\n');
                (path, bytes, sync)
            })
            .collect();
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::AppendMany(records, reply));
        Pending::from_receiver(rx)
    }

    /// Syncs everything enqueued so far, renames the main file to `to`, starts a new one.
    pub fn rotate(&self, to: PathBuf) -> Pending {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Rotate(to, reply));
        Pending::from_receiver(rx)
    }

    /// Resolves once everything enqueued before it is on disk.
    pub fn flush(&self) -> Pending {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Flush(reply));
        Pending::from_receiver(rx)
    }

    fn send(&self, cmd: Cmd) {
        if let Some(tx) = &self.tx {
            // A send error means the thread is gone; the dropped reply reports it.
            let _ = tx.send(cmd);
        }
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Opens `path` for appending. If a crash left a torn last line (no newline), the line is
/// terminated first, so the next record starts on a line of its own instead of being glued
/// onto the fragment.
fn open_append(path: &Path) -> io::Result<File> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)?;
    let len = file.metadata()?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(len - 1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            close_tail(path, &mut file, len)?;
        }
    }
    Ok(file)
}

/// Ends a file whose last line has no newline before anything is appended after it. A
/// tail that is a whole record (only its newline was lost) gets its newline and stays, as
/// the readers already applied it. A tail that does not parse is a torn write, never
/// acknowledged (every answer waits for its line's newline to be synced): it is cut off, so
/// that it cannot become an unreadable line in the middle of the file, which the readers
/// keep aside as damage.
fn close_tail(path: &Path, file: &mut File, len: u64) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    // A record is far shorter than this; a longer tail is read from its last part only.
    const MOST: u64 = 1 << 20;
    let from = len.saturating_sub(MOST);
    file.seek(SeekFrom::Start(from))?;
    let mut tail = Vec::with_capacity((len - from) as usize);
    file.read_to_end(&mut tail)?;
    let start = memchr::memrchr(b'\n', &tail).map(|i| i + 1);
    let line = &tail[start.unwrap_or(0)..];
    let whole = serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok();
    if whole || (start.is_none() && from > 0) {
        file.write_all(b"\n")?;
    } else {
        let keep = from + start.unwrap_or(0) as u64;
        tracing::warn!(file = %path.display(), bytes = len - keep, "cut off a torn last line (a crash mid-write; it was never acknowledged)");
        file.set_len(keep)?;
    }
    file.sync_data()
}

/// Bytes waiting for each file, in arrival order per file, and whether it must be synced.
type Buffers = Vec<(PathBuf, Vec<u8>, bool)>;

fn writer_loop(mut files: HashMap<PathBuf, File>, rx: mpsc::Receiver<Cmd>) {
    let main = files.keys().next().cloned().unwrap_or_default();
    let mut bufs: Buffers = Vec::new();
    let mut waiting: Vec<Reply> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(cmd) => batch.push(cmd),
                Err(_) => break,
            }
        }
        for cmd in batch {
            match cmd {
                Cmd::Append(path, bytes, reply) => {
                    buffer(&mut bufs, path, &bytes, true);
                    waiting.extend(reply);
                }
                Cmd::AppendMany(records, reply) => {
                    for (path, bytes, sync) in records {
                        buffer(&mut bufs, path, &bytes, sync);
                    }
                    waiting.push(reply);
                }
                Cmd::Flush(reply) => {
                    commit(&mut files, &mut bufs, &mut waiting);
                    let _ = reply.send(Ok(()));
                }
                Cmd::Rotate(to, reply) => {
                    commit(&mut files, &mut bufs, &mut waiting);
                    files.remove(&main);
                    let result = rotate(&main, &to).and_then(|()| open_append(&main));
                    let _ = reply.send(
                        result
                            .map(|new| {
                                files.insert(main.clone(), new);
                            })
                            .map_err(StoreError::Io),
                    );
                }
            }
        }
        commit(&mut files, &mut bufs, &mut waiting);
    }
    commit(&mut files, &mut bufs, &mut waiting);
}

fn buffer(bufs: &mut Buffers, path: PathBuf, bytes: &[u8], sync: bool) {
    match bufs.iter_mut().find(|(p, _, _)| *p == path) {
        Some((_, buf, must_sync)) => {
            buf.extend_from_slice(bytes);
            *must_sync |= sync;
        }
        None => bufs.push((path, bytes.to_vec(), sync)),
    }
}

/// Appends `bytes` to `path` (opening it if needed) without syncing.
fn write_one(files: &mut HashMap<PathBuf, File>, path: &Path, bytes: &[u8]) -> io::Result<()> {
    if !files.contains_key(path) {
        if files.len() >= MAX_OPEN {
            files.retain(|_, _| false);
        }
        let new = open_append(path)?;
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            super::atomic::sync_dir(dir)?;
        }
        files.insert(path.to_path_buf(), new);
    }
    let file = files
        .get_mut(path)
        .ok_or_else(|| io::Error::other("file not open"))?;
    file.write_all(bytes)
}

fn commit(files: &mut HashMap<PathBuf, File>, bufs: &mut Buffers, waiting: &mut Vec<Reply>) {
    if bufs.is_empty() && waiting.is_empty() {
        return;
    }
    let mut result = Ok(());
    let mut touched = Vec::with_capacity(bufs.len());
    for (path, bytes, sync) in bufs.drain(..) {
        match write_one(files, &path, &bytes) {
            Ok(()) if sync => touched.push(path),
            Ok(()) => {}
            Err(e) => {
                files.remove(&path);
                result = Err(e);
            }
        }
    }
    // Sync every file written in this batch at once: the file system can commit them
    // together, so a batch that touched two journals costs about one sync, not two.
    let to_sync: Vec<&File> = touched.iter().filter_map(|p| files.get(p)).collect();
    let synced: io::Result<()> = match to_sync.as_slice() {
        [] => Ok(()),
        [one] => one.sync_data(),
        [first, rest @ ..] => std::thread::scope(|scope| {
            let others: Vec<_> = rest
                .iter()
                .map(|f| scope.spawn(move || f.sync_data()))
                .collect();
            let mut r = first.sync_data();
            for h in others {
                let other = h
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("sync thread panicked")));
                r = r.and(other);
            }
            r
        }),
    };
    if let Err(e) = synced {
        result = Err(e);
    }
    for reply in waiting.drain(..) {
        let _ = reply.send(match &result {
            Ok(()) => Ok(()),
            Err(e) => Err(StoreError::Io(io::Error::new(e.kind(), e.to_string()))),
        });
    }
}

fn rotate(live: &Path, to: &Path) -> io::Result<()> {
    std::fs::rename(live, to)?;
    if let Some(dir) = live.parent().filter(|p| !p.as_os_str().is_empty()) {
        super::atomic::sync_dir(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrent_appends_all_land_in_order_of_enqueueing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log.jsonl");
        let log = std::sync::Arc::new(Appender::open(&path).expect("open"));
        let pending: Vec<_> = (0..500)
            .map(|i| log.append(format!("{i}").into_bytes()))
            .collect();
        for p in pending {
            p.wait().await.expect("durable");
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<usize> = text.lines().map(|l| l.parse().expect("number")).collect();
        assert_eq!(lines, (0..500).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn records_for_other_files_go_to_those_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("main.jsonl");
        let other = dir.path().join("sub").join("other.jsonl");
        std::fs::create_dir_all(other.parent().expect("parent")).expect("mkdir");
        let log = Appender::open(&main).expect("open");
        let a = log.append(b"m".to_vec());
        let b = log.append_to(other.clone(), b"o1".to_vec());
        let c = log.append_to(other.clone(), b"o2".to_vec());
        for p in [a, b, c] {
            p.wait().await.expect("durable");
        }
        assert_eq!(std::fs::read_to_string(&main).expect("main"), "m\n");
        assert_eq!(std::fs::read_to_string(&other).expect("other"), "o1\no2\n");
    }

    #[tokio::test]
    async fn a_torn_tail_is_cut_off_and_a_whole_one_terminated_before_the_next_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (before, after) in [
            ("{\"a\":1}\n{\"b\":", "{\"a\":1}\n{\"c\":3}\n"),
            ("{\"b\":", "{\"c\":3}\n"),
            ("{\"a\":1}\n{\"b\":2}", "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n"),
        ] {
            let path = dir.path().join("log.jsonl");
            std::fs::write(&path, before).expect("write");
            let log = Appender::open(&path).expect("open");
            log.append(b"{\"c\":3}".to_vec())
                .wait()
                .await
                .expect("durable");
            drop(log);
            assert_eq!(std::fs::read_to_string(&path).expect("read"), after);
        }
    }

    #[tokio::test]
    async fn rotate_moves_the_live_file_aside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log.jsonl");
        let old = dir.path().join("log.old.jsonl");
        let log = Appender::open(&path).expect("open");
        let _ = log.append(b"a".to_vec());
        log.rotate(old.clone()).wait().await.expect("rotate");
        log.append(b"b".to_vec()).wait().await.expect("append");
        assert_eq!(std::fs::read_to_string(&old).expect("old"), "a\n");
        assert_eq!(std::fs::read_to_string(&path).expect("live"), "b\n");
    }
}
