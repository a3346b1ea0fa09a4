//! [`Pending`]: a write's durability, awaited after the caller has released its locks.
//! The file appender and the database's batch writers resolve it, with a [`StoreError`]
//! saying which of the two failed.

use tokio::sync::oneshot;

use super::StoreError;

/// A record's durability, to be awaited after the caller has released its locks.
pub struct Pending(oneshot::Receiver<Result<(), StoreError>>);

impl Pending {
    /// A durability resolved by a writer (the file appender, a database batch writer).
    pub fn from_receiver(rx: oneshot::Receiver<Result<(), StoreError>>) -> Self {
        Self(rx)
    }

    /// Already settled (nothing to wait for, or an error known now).
    pub fn settled(result: Result<(), StoreError>) -> Self {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(result);
        Self(rx)
    }

    pub async fn wait(self) -> Result<(), StoreError> {
        self.0.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Blocking wait, for code outside the async runtime.
    pub fn wait_blocking(self) -> Result<(), StoreError> {
        self.0.blocking_recv().unwrap_or_else(|_| Err(stopped()))
    }
}

fn stopped() -> StoreError {
    StoreError::Io(std::io::Error::other("journal writer stopped"))
}
