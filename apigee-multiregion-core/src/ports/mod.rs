//! Ports: the traits the engine uses to reach the world. One trait per file; each is
//! object-safe (`Arc<dyn ...>`) so the engine can be driven by the real adapters or by in-memory
//! fakes in tests.

mod cassandra;
mod cluster;
mod installer;

pub use cassandra::{AdminError, CassandraAdmin, JmxCredentials};
pub use cluster::{
    APIGEE_DATASTORE, APIGEE_ORGANIZATION, AccessCheck, CASSANDRA_DATA_REPLICATION, ClusterError, ClusterOps,
    CustomResource, DEPLOYMENT, ExecArg, ExecOutput, LeaseMode, LeaseRecord, NodeFacts, ProbePodSpec, SanitizedObject,
};
pub use installer::{HybridInstaller, InstallerError, Operation};
