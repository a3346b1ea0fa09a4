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
pub mod pending;
pub mod probe;
pub mod quarantine;

pub use appender::Appender;
pub use atomic::write_atomic;
pub use lock::{DataDirLock, LockError};
pub use pending::Pending;

/// A storage role's failure: the file system, or the database (its own variant all the
/// way to the API, which answers 503 for it: nothing was recorded, retry later).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Database(#[from] crate::db::DbError),
}

/// What a storage role's operations answer.
pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// A copy for each of the callers one failed group commit answers (neither cause is
    /// `Clone`): the same kind and message, and still the database's when it was.
    pub fn copy(&self) -> Self {
        match self {
            Self::Io(e) => Self::Io(std::io::Error::new(e.kind(), e.to_string())),
            Self::Database(e) => Self::Database(crate::db::DbError::Reported(e.to_string())),
        }
    }

    /// Whether the database failed (the API answers 503: nothing was recorded).
    pub fn is_database(&self) -> bool {
        matches!(self, Self::Database(_))
    }
}
