//! One module per subcommand; each has an `Args` (clap) and a `run`.

pub mod check;
pub mod decommission;
pub mod expand;
pub mod overrides;
pub mod parse;
pub mod seeds;

use apigee_multiregion_core::expansion::CancelHandle;

use crate::error::CliError;

/// The runtime a command's run lives on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))
}

/// Ctrl-C cancels the run: the engine stops at its next await, records the journal and releases
/// its lock. Call inside the runtime.
pub(crate) fn cancel_on_ctrl_c(handle: CancelHandle) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            handle.cancel();
        }
    });
}
