//! Adapters: the real implementations of the ports (feature `kube`).
//!
//! - [`KubeCluster`]: `ClusterOps` on kube-rs.
//! - [`NodetoolOverExec`]: `CassandraAdmin` through `kubectl exec`-style exec of nodetool.
//! - [`Apigeectl`], [`Helm`]: `HybridInstaller` as subprocesses whose argv comes from pure,
//!   unit-tested functions.

mod connect;
mod discover;
mod installer;
mod kube_cluster;
mod nodetool;
pub mod redact;

pub use connect::{
    ConnectError, JmxSource, connect, connect_decommission, default_workdir, installer_for, jmx_credentials,
    overrides_redactor,
};
pub use discover::{DiscoverError, PodsAt, seeds_from_cluster};
pub use installer::{Apigeectl, Helm, Release, apigeectl_argv, helm_releases};
pub use kube_cluster::{
    FIELD_MANAGER, KubeCluster, apply_body, default_kubeconfig, exec_argv, pod_facts, probe_pod_body,
    sanitize_namespace, sanitize_secret,
};
pub use nodetool::{NodetoolOverExec, classify_failure, nodetool_command};
