//! Storage: the file-system primitives (data-directory lock, atomic document writes, the
//! group-commit append log, the quarantine) and the storage roles' interfaces with their
//! file and PostgreSQL implementations (`doc_store`: the config documents; `probe`: whether a
//! webhook taken now would be durable). Higher
//! modules describe *what* to store and hold a role's trait; `startup/` picks the
//! implementation; the syscalls live here and the SQL in [`crate::db`].

pub mod appender;
pub mod atomic;
pub mod doc_store;
pub mod document;
pub mod lease;
pub mod lock;
pub mod probe;
pub mod quarantine;

pub use appender::Appender;
pub use atomic::write_atomic;
pub use lock::{DataDirLock, LockError};

/// A storage role's failure: the file system, or the database (its own variant all the
/// way to the API, which answers 503 for it: nothing was recorded, retry later).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Database(#[from] crate::db::DbError),
}

/// For the callers still answering `io::Result`: the database's failure stays
/// recognisable as the database being unavailable ([`crate::db::is_unavailable`]).
impl From<StoreError> for std::io::Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Io(e) => e,
            StoreError::Database(e) => e.into_io(),
        }
    }
}
