//! Cancellation of a run: the face (CLI, Python) keeps a [`CancelHandle`] and signals it on
//! Ctrl-C; the engine stops at its next await, records the journal and releases its own lock.

use tokio::sync::watch;

/// Signals cancellation.
#[derive(Debug, Clone)]
pub struct CancelHandle(watch::Sender<bool>);

/// Observes cancellation (given to [`super::RunOptions::cancel`]).
#[derive(Debug, Clone)]
pub struct Cancel(watch::Receiver<bool>);

impl Cancel {
    /// A new pair.
    pub fn new() -> (CancelHandle, Cancel) {
        let (tx, rx) = watch::channel(false);
        (CancelHandle(tx), Cancel(rx))
    }

    /// Whether cancellation was signalled.
    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes when cancellation is signalled (never, if the handle is dropped unsignalled).
    pub async fn cancelled(&self) {
        let mut rx = self.0.clone();
        if rx.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl CancelHandle {
    /// Signals cancellation.
    pub fn cancel(&self) {
        let _ = self.0.send(true);
    }
}
