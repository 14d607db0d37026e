//! Building the real [`Deps`] for a plan: kube-rs clusters, the installer, nodetool over exec.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::redact::Redactor;
use super::{Apigeectl, Helm, KubeCluster, NodetoolOverExec};
use crate::model::Secret;
use crate::overrides::OverridesFileError;
use crate::ports::{CassandraAdmin, ClusterError, ClusterOps, JmxCredentials};

use crate::expansion::{AdminFactory, Deps, ExpansionPlan, InstallerSpec, JmxSpec, OtherCluster, Region};

/// The plan cannot be connected to its clusters.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A kubeconfig context cannot be used.
    #[error("{which} cluster: {source}")]
    Cluster {
        /// `source`, `target` or `other region's`.
        which: &'static str,
        /// Why.
        #[source]
        source: ClusterError,
    },
    /// An overrides file the plan names cannot be read.
    #[error("{source} (plan key `{key}`)")]
    Overrides {
        /// The plan key naming the file: `source.overrides` or `target.overrides`.
        key: &'static str,
        /// Why.
        #[source]
        source: OverridesFileError,
    },
    /// The JMX credentials the plan names cannot be found.
    #[error("JMX credentials (plan key `jmx`): {0}")]
    Jmx(String),
}

/// Apigee hybrid's JMX credentials when the overrides set none. Not a secret of ours: the
/// product's public, documented default (config property reference), which the product itself
/// uses in that case, so the tool must too (REALITY.md). Redacted from output like any password.
const DEFAULT_JMX_USER: &str = "jmxuser";
const DEFAULT_JMX_PASSWORD: &str = "iloveapis123";

/// Where `jmx: {from: overrides}` found the credentials, in the product's own order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JmxSource {
    /// `cassandra.auth.jmx` of the source overrides.
    Overrides,
    /// The Kubernetes secret named by `cassandra.auth.secret` (keys `jmx.user`, `jmx.password`).
    Secret(String),
    /// Neither: the product's defaults (`jmxuser`).
    ProductDefault,
    /// Not from the overrides (`env`, `pod-env`, `none`).
    Plan,
}

impl std::fmt::Display for JmxSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Overrides => f.write_str("JMX credentials from cassandra.auth.jmx in the source overrides"),
            Self::Secret(s) => write!(f, "JMX credentials from the secret {s} (cassandra.auth.secret)"),
            Self::ProductDefault => {
                write!(f, "the source overrides set no JMX credentials: using Apigee's default user {DEFAULT_JMX_USER}")
            }
            Self::Plan => f.write_str("JMX credentials as the plan's `jmx` says"),
        }
    }
}

fn source_view(plan: &ExpansionPlan) -> Result<crate::overrides::OverridesView, ConnectError> {
    let path = plan.resolve(&plan.source.overrides);
    let wrap = |source| ConnectError::Overrides { key: "source.overrides", source };
    let doc = crate::overrides::load_file(&path).map_err(wrap)?;
    doc.view().map_err(|source| wrap(OverridesFileError::Parse { path, source }))
}

/// The JMX credentials the plan asks for, without asking a cluster: `from: overrides` reads
/// `cassandra.auth.jmx` and falls back to the product's default (the secret named by
/// `cassandra.auth.secret` needs the cluster: see [`connect`]).
pub fn jmx_credentials(plan: &ExpansionPlan) -> Result<JmxCredentials, ConnectError> {
    Ok(local_jmx(plan)?.0)
}

fn local_jmx(plan: &ExpansionPlan) -> Result<(JmxCredentials, JmxSource, Option<String>), ConnectError> {
    match &plan.jmx {
        JmxSpec::Overrides => {
            let view = source_view(plan)?;
            match view.cassandra.auth.users.get("jmx") {
                Some(c) if let Some(password) = c.password.clone() => Ok((
                    JmxCredentials::Given {
                        username: c.username.clone().unwrap_or_else(|| DEFAULT_JMX_USER.into()),
                        password,
                    },
                    JmxSource::Overrides,
                    None,
                )),
                _ => Ok((
                    JmxCredentials::Given {
                        username: DEFAULT_JMX_USER.into(),
                        password: Secret::new(DEFAULT_JMX_PASSWORD.to_owned()),
                    },
                    JmxSource::ProductDefault,
                    view.cassandra.auth.secret.clone(),
                )),
            }
        }
        JmxSpec::Env { username_env, password_env } => {
            let get = |key: &str, v: &str| {
                std::env::var(v).map_err(|_| {
                    ConnectError::Jmx(format!(
                        "`jmx.{key}` names the environment variable {v}, which is not set: export it, or change `jmx` in the plan"
                    ))
                })
            };
            Ok((
                JmxCredentials::Given {
                    username: get("username_env", username_env)?,
                    password: Secret::new(get("password_env", password_env)?),
                },
                JmxSource::Plan,
                None,
            ))
        }
        JmxSpec::PodEnv => Ok((JmxCredentials::PodEnvironment, JmxSource::Plan, None)),
        JmxSpec::None => Ok((JmxCredentials::None, JmxSource::Plan, None)),
    }
}

/// Every secret-like value in both overrides files, to redact from installer output.
pub fn overrides_redactor(plan: &ExpansionPlan) -> Redactor {
    let mut secrets = Vec::new();
    for p in [&plan.source.overrides, &plan.target.overrides] {
        if let Ok(doc) = crate::overrides::load_file(&plan.resolve(p)) {
            secrets.extend(doc.secret_values());
        }
    }
    if let Ok((JmxCredentials::Given { password, .. }, _, _)) = local_jmx(plan) {
        secrets.push(password);
    }
    Redactor::new(secrets)
}

/// apigeectl's hybrid-files directory when the plan names none: in Google's layout
/// (`hybrid-files/overrides/overrides.yaml`, certificates in `hybrid-files/certs/`) the parent
/// of the `overrides` folder, else the overrides file's own folder.
pub fn default_workdir(overrides: &Path) -> PathBuf {
    let dir = overrides.parent().map(Path::to_path_buf).unwrap_or_default();
    match (dir.file_name().and_then(|n| n.to_str()), dir.parent()) {
        (Some("overrides"), Some(parent)) => parent.to_path_buf(),
        _ => dir,
    }
}

struct Admins {
    source: Arc<dyn ClusterOps>,
    target: Arc<dyn ClusterOps>,
    plan: ExpansionPlan,
    credentials: JmxCredentials,
}

impl AdminFactory for Admins {
    fn admin(&self, region: Region, pod: &str) -> Arc<dyn CassandraAdmin> {
        let (cluster, spec) = match region {
            Region::Source => (self.source.clone(), &self.plan.source),
            Region::Target => (self.target.clone(), &self.plan.target),
        };
        let mut a =
            NodetoolOverExec::new(cluster, &spec.namespace, pod, Some(&spec.container), self.credentials.clone());
        a.rebuild_timeout = self.plan.rebuild.timeout.0;
        Arc::new(a)
    }
}

/// nodetool on the pods of another existing region (`others[].context`), with the source's JMX
/// credentials: an installation's regions share them.
struct OtherAdmins {
    cluster: Arc<dyn ClusterOps>,
    namespace: String,
    container: String,
    credentials: JmxCredentials,
}

impl AdminFactory for OtherAdmins {
    fn admin(&self, _region: Region, pod: &str) -> Arc<dyn CassandraAdmin> {
        Arc::new(NodetoolOverExec::new(
            self.cluster.clone(),
            &self.namespace,
            pod,
            Some(&self.container),
            self.credentials.clone(),
        ))
    }
}

/// The plan's installer, acting on the plan's target region (its context and overrides folder).
pub fn installer_for(plan: &ExpansionPlan, redactor: Redactor) -> Arc<dyn crate::ports::HybridInstaller> {
    let kc = |p: &Option<PathBuf>| p.as_ref().map(|p| plan.resolve(p));
    match &plan.installer {
        InstallerSpec::Apigeectl { program, workdir } => {
            let mut a = Apigeectl::new(
                program.as_ref().map_or_else(|| PathBuf::from("apigeectl"), |p| plan.resolve_program(p)),
                &plan.target.context,
            );
            // apigeectl runs from its hybrid-files directory: overrides name `./certs/...` and
            // `./service-accounts/...` relative to it. Default: the target overrides' folder.
            a.workdir = Some(
                workdir
                    .as_ref()
                    .map_or_else(|| default_workdir(&plan.resolve(&plan.target.overrides)), |w| plan.resolve(w)),
            );
            a.kubeconfig = kc(&plan.target.kubeconfig);
            a.redactor = redactor;
            a.poll_interval = plan.timeouts.poll.0;
            Arc::new(a)
        }
        InstallerSpec::Helm { program, kubectl, version, charts, org_release, environments, env_groups } => {
            Arc::new(Helm {
                program: program.as_ref().map_or_else(|| PathBuf::from("helm"), |p| plan.resolve_program(p)),
                kubectl: kubectl.as_ref().map_or_else(|| PathBuf::from("kubectl"), |p| plan.resolve_program(p)),
                charts_dir: plan.resolve(charts),
                namespace: plan.target.namespace.clone(),
                version: *version,
                org_release: org_release.clone(),
                environments: environments.clone(),
                env_groups: env_groups.clone(),
                kubeconfig: kc(&plan.target.kubeconfig),
                context: plan.target.context.clone(),
                redactor,
                command_timeout: plan.timeouts.install.0,
            })
        }
    }
}

/// Connects for a decommission: the engine's dependencies from the plan's view (`source` = the
/// surviving region, `target` = the leaving one, whose installer uninstalls), and the surviving
/// region's installer (its datastore is re-applied).
pub async fn connect_decommission(
    plan: &crate::expansion::decommission::DecommissionPlan,
) -> Result<(Deps, Arc<dyn crate::ports::HybridInstaller>), ConnectError> {
    let view = plan.view();
    let deps = connect(&view).await?;
    let surviving = installer_for(&plan.surviving_view(), overrides_redactor(&view));
    Ok((deps, surviving))
}

/// Connects to both clusters and builds the installer and nodetool access for the plan.
pub async fn connect(plan: &ExpansionPlan) -> Result<Deps, ConnectError> {
    let kc = |p: &Option<PathBuf>| p.as_ref().map(|p| plan.resolve(p));
    let source: Arc<dyn ClusterOps> = Arc::new(
        KubeCluster::connect(kc(&plan.source.kubeconfig).as_deref(), Some(&plan.source.context))
            .await
            .map_err(|source| ConnectError::Cluster { which: "source", source })?,
    );
    let target: Arc<dyn ClusterOps> = Arc::new(
        KubeCluster::connect(kc(&plan.target.kubeconfig).as_deref(), Some(&plan.target.context))
            .await
            .map_err(|source| ConnectError::Cluster { which: "target", source })?,
    );
    let (mut credentials, mut jmx_source, secret) = local_jmx(plan)?;
    let usable = |c: &JmxCredentials| match c {
        // nodetool's password file (`-pwf`, which keeps the password off every argv) is
        // whitespace-separated: such a password cannot be passed safely.
        JmxCredentials::Given { password, .. } if password.expose().chars().any(char::is_whitespace) => {
            Err(ConnectError::Jmx(
                "the JMX password contains whitespace, which nodetool's password file cannot hold; \
             change the password, or use `jmx: {from: pod-env}`"
                    .into(),
            ))
        }
        _ => Ok(()),
    };
    usable(&credentials)?;
    let mut redactor = overrides_redactor(plan);
    // The product reads JMX credentials from `cassandra.auth.secret` when the overrides name
    // one and set no password: so does the tool.
    if let Some(name) = secret {
        let found = source.export_secret(&plan.source.namespace, &name).await.map_err(|e| {
            ConnectError::Jmx(format!(
                "the source overrides name cassandra.auth.secret `{name}`, which cannot be read: {e}"
            ))
        })?;
        let Some(obj) = found else {
            return Err(ConnectError::Jmx(format!(
                "the source overrides name cassandra.auth.secret `{name}`, but context `{}` has no secret {}/{name}",
                plan.source.context, plan.source.namespace
            )));
        };
        match (obj.data.get("jmx.user"), obj.data.get("jmx.password")) {
            (Some(u), Some(p)) => {
                let not_text = |key: &str| {
                    ConnectError::Jmx(format!(
                        "secret {}/{name} (cassandra.auth.secret): `{key}` is not UTF-8 text; store the JMX user and password as text",
                        plan.source.namespace
                    ))
                };
                let username = std::str::from_utf8(u.expose()).map_err(|_| not_text("jmx.user"))?.to_owned();
                let password = Secret::from_utf8(p).map_err(|_| not_text("jmx.password"))?;
                credentials = JmxCredentials::Given { username, password: password.clone() };
                usable(&credentials)?;
                redactor = redactor.with(password);
                jmx_source = JmxSource::Secret(format!("{}/{name}", plan.source.namespace));
            }
            _ => {
                return Err(ConnectError::Jmx(format!(
                    "secret {}/{name} (cassandra.auth.secret) has no `jmx.user` and `jmx.password` keys",
                    plan.source.namespace
                )));
            }
        }
    }
    let installer = installer_for(plan, redactor);
    let mut others = Vec::new();
    for other in &plan.others {
        let Some(context) = &other.context else { continue };
        let cluster: Arc<dyn ClusterOps> = Arc::new(
            KubeCluster::connect(kc(&other.kubeconfig).as_deref(), Some(context))
                .await
                .map_err(|source| ConnectError::Cluster { which: "other region's", source })?,
        );
        let admins = Arc::new(OtherAdmins {
            cluster: cluster.clone(),
            namespace: other.namespace.clone(),
            container: other.container.clone(),
            credentials: credentials.clone(),
        });
        others.push(OtherCluster {
            datacenter: other.datacenter.to_string(),
            namespace: other.namespace.clone(),
            selector: other.selector.clone(),
            cluster,
            admins,
        });
    }
    let admins = Arc::new(Admins { source: source.clone(), target: target.clone(), plan: plan.clone(), credentials });
    Ok(Deps { source, target, installer, admins, notes: vec![jmx_source.to_string()], others })
}
