//! # apigee-multiregion-core
//!
//! Everything that knows Apigee hybrid, Cassandra or Kubernetes lives in this crate; the CLI and
//! the Python package are thin faces over it.
//!
//! Layers (arrows only point down):
//! 1. **Pure domain**, no I/O: [`model`], [`seeds`], [`overrides`], [`nodetool`], [`network`],
//!    [`ring`], [`preflight`], [`datareplication`], [`verify`].
//! 2. **Ports** ([`ports`]): the traits the engine reaches the world through.
//! 3. **Adapters** ([`adapters`], feature `kube`, on by default): kube-rs, nodetool over exec,
//!    apigeectl and Helm.
//! 4. **Engine** ([`expansion`]): the steps, the journal, the lock, events and the report.
//!
//! The pure layer never touches the file system except through [`atomic_file`], which the faces
//! call explicitly to write an edited overrides file.
#![warn(missing_docs)]

#[cfg(feature = "kube")]
pub mod adapters;
pub mod atomic_file;
pub mod copy;
pub mod datareplication;
pub mod decommission;
pub mod expansion;
pub mod model;
pub mod network;
pub mod nodetool;
pub mod overrides;
pub mod permissions;
pub mod ports;
pub mod preflight;
pub mod probe;
pub mod ring;
pub mod seeds;
pub mod verify;
