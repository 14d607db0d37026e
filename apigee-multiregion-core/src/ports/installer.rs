//! `HybridInstaller`: installs Apigee hybrid from one overrides file into one cluster.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;

/// An installer command failed. The output shown has every secret from the overrides redacted.
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{command}` failed{}: {message}", context.as_ref().map(|c| format!(" (context `{c}`)")).unwrap_or_default())]
pub struct InstallerError {
    /// The command as shown to the user.
    pub command: String,
    /// The kubeconfig context it ran against.
    pub context: Option<String>,
    /// What it said (last lines), secrets redacted.
    pub message: String,
}

/// An installer operation, as the dry run names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `apigeectl init` / the operator release (and CRDs).
    Init,
    /// `apigeectl apply` / every release.
    Apply,
    /// `apigeectl apply --datastore` / the datastore release.
    ApplyDatastore,
    /// `apigeectl check-ready` / readiness from the cluster.
    CheckReady,
    /// `apigeectl delete` / uninstall every release.
    Delete,
}

/// apigeectl or Helm.
#[async_trait]
pub trait HybridInstaller: Send + Sync {
    /// Human name (`apigeectl`, `helm`).
    fn name(&self) -> &'static str;

    /// The equivalent commands of an operation, for dry-run output.
    fn describe(&self, operation: Operation, overrides: &Path) -> Vec<String>;

    /// `apigeectl init` (CRDs, namespaces, cert-manager resources).
    async fn init(&self, overrides: &Path) -> Result<(), InstallerError>;

    /// `apigeectl apply`: every component.
    async fn apply(&self, overrides: &Path) -> Result<(), InstallerError>;

    /// `apigeectl apply --datastore`: only Cassandra (used to re-apply without the seed host).
    async fn apply_datastore(&self, overrides: &Path) -> Result<(), InstallerError>;

    /// `apigeectl check-ready`, polled until ready or `timeout`.
    async fn wait_ready(&self, overrides: &Path, timeout: Duration) -> Result<(), InstallerError>;

    /// `apigeectl delete`.
    async fn delete(&self, overrides: &Path) -> Result<(), InstallerError>;
}
