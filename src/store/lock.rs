//! The exclusive lock on `DATA_DIR`: one writer (server or offline CLI) at a time.
//! The lock is an OS file lock on `DATA_DIR/.callgate.lock`, released by the kernel when the
//! process dies, so a `kill -9` never leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = ".callgate.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("DATA_DIR {dir}: {source}")]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("DATA_DIR {dir} is in use by another callgate process{holder}; stop it first")]
    Held { dir: PathBuf, holder: String },
}

/// How long a lock held elsewhere is waited for: a process that is stopping (a restart
/// under systemd or PM2) lets go within it; a running server does not.
const WAIT_FOR_RELEASE: std::time::Duration = std::time::Duration::from_secs(2);

fn try_lock_a_moment(file: &File) -> Result<(), TryLockError> {
    let deadline = std::time::Instant::now() + WAIT_FOR_RELEASE;
    loop {
        match file.try_lock() {
            Err(TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// Holds the lock until dropped.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    dir: PathBuf,
}

impl DataDirLock {
    /// Creates `dir` if missing, checks it is writable and takes the lock.
    pub fn acquire(dir: &Path) -> Result<Self, LockError> {
        let io_err = |source| LockError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io_err)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
            .map_err(io_err)?;
        match try_lock_a_moment(&file) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let holder = match pid.trim() {
                    "" => String::new(),
                    pid => format!(" (pid {pid})"),
                };
                return Err(LockError::Held {
                    dir: dir.to_path_buf(),
                    holder,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io_err(e)),
        }
        file.set_len(0).map_err(io_err)?;
        file.rewind().map_err(io_err)?;
        write!(file, "{}", std::process::id()).map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        Ok(Self {
            _file: file,
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_the_first_drops() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("nested/data");
        let first = DataDirLock::acquire(&data).expect("first lock");
        let err = DataDirLock::acquire(&data).expect_err("second lock");
        assert!(
            err.to_string()
                .contains("in use by another callgate process"),
            "{err}"
        );
        drop(first);
        DataDirLock::acquire(&data).expect("lock after release");
    }

    #[test]
    fn a_data_dir_that_is_a_file_is_an_error_naming_data_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").expect("write");
        let err = DataDirLock::acquire(&file).expect_err("not a dir");
        assert!(err.to_string().starts_with("DATA_DIR"), "{err}");
    }
}
