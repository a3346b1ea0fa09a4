//! File-system primitives: the data-directory lock, atomic document writes and the
//! group-commit append log. Higher modules describe *what* to store; the syscalls live here.

pub mod appender;
pub mod atomic;
pub mod document;
pub mod lock;
pub mod quarantine;

pub use appender::Appender;
pub use atomic::write_atomic;
pub use lock::{DataDirLock, LockError};
