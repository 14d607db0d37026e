//! Copying the Apigee namespace and the CA secret from the existing region to the new one.
//!
//! The CA is the trust root of Cassandra's internode TLS: the new region must use the very same
//! one. So: identical CA already there = nothing to do; a different CA there = refuse (unless
//! forced), because replacing it would break whatever already trusts it; absent = copy. The key
//! material goes from one API server to the other through memory only.

use serde::Serialize;

use crate::ports::{ClusterError, ClusterOps, SanitizedObject};

/// What a copy did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CopyOutcome {
    /// The object was absent and is now copied.
    Copied,
    /// An identical object was already there.
    AlreadyPresent,
    /// A different object was there and was replaced (only with `force`).
    Replaced,
}

/// Why a copy did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CopyError {
    /// The source does not have the object.
    #[error("context `{context}`: {kind} {name} not found in the existing region; is this the right source context?")]
    MissingInSource {
        /// Source context.
        context: String,
        /// Kind.
        kind: &'static str,
        /// Name.
        name: String,
    },
    /// The target holds a different CA.
    #[error(
        "context `{context}`: secret {name} already exists with a DIFFERENT CA. A new region must use the existing region's CA, or its Cassandra nodes cannot join. If the new region was installed with its own CA, delete that installation and the secret first; to replace the secret anyway, use --force-ca (anything that trusts the old CA will stop working)"
    )]
    DifferentCa {
        /// Target context.
        context: String,
        /// `namespace/name`.
        name: String,
    },
    /// A Kubernetes call failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Copies namespace `name` (sanitized) to the target.
pub async fn copy_namespace(
    source: &dyn ClusterOps,
    target: &dyn ClusterOps,
    name: &str,
) -> Result<CopyOutcome, CopyError> {
    let ns = source.export_namespace(name).await?.ok_or_else(|| CopyError::MissingInSource {
        context: source.context().into(),
        kind: "namespace",
        name: name.into(),
    })?;
    match target.export_namespace(name).await? {
        Some(existing) if same_metadata(&existing, &ns) => Ok(CopyOutcome::AlreadyPresent),
        Some(_) => {
            target.apply(&ns).await?;
            Ok(CopyOutcome::Replaced)
        }
        None => {
            target.apply(&ns).await?;
            Ok(CopyOutcome::Copied)
        }
    }
}

/// Whether the target's namespace already carries every label and annotation of the source's.
fn same_metadata(existing: &SanitizedObject, wanted: &SanitizedObject) -> bool {
    wanted.labels.iter().all(|(k, v)| existing.labels.get(k) == Some(v))
        && wanted.annotations.iter().all(|(k, v)| existing.annotations.get(k) == Some(v))
}

/// Copies the CA secret `namespace/name`; see the module documentation for the rules.
pub async fn copy_ca(
    source: &dyn ClusterOps,
    target: &dyn ClusterOps,
    namespace: &str,
    name: &str,
    force: bool,
) -> Result<CopyOutcome, CopyError> {
    let ca = source.export_secret(namespace, name).await?.ok_or_else(|| CopyError::MissingInSource {
        context: source.context().into(),
        kind: "secret",
        name: format!("{namespace}/{name}"),
    })?;
    match target.export_secret(namespace, name).await? {
        Some(existing) if existing.data == ca.data => Ok(CopyOutcome::AlreadyPresent),
        Some(_) if !force => {
            Err(CopyError::DifferentCa { context: target.context().into(), name: format!("{namespace}/{name}") })
        }
        Some(_) => {
            target.apply(&ca).await?;
            Ok(CopyOutcome::Replaced)
        }
        None => {
            if target.export_namespace(namespace).await?.is_none() {
                let ns = SanitizedObject {
                    api_version: "v1".into(),
                    kind: "Namespace".into(),
                    name: namespace.into(),
                    namespace: None,
                    labels: Default::default(),
                    annotations: Default::default(),
                    secret_type: None,
                    data: Default::default(),
                };
                target.apply(&ns).await?;
            }
            target.apply(&ca).await?;
            Ok(CopyOutcome::Copied)
        }
    }
}
