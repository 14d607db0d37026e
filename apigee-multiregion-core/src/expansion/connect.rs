//! Building the real [`Deps`] for a plan: kube-rs clusters, the installer, nodetool over exec.

use std::path::PathBuf;
use std::sync::Arc;

use crate::adapters::redact::Redactor;
use crate::adapters::{Apigeectl, Helm, KubeCluster, NodetoolOverExec};
use crate::model::Secret;
use crate::overrides::OverridesDoc;
use crate::ports::{CassandraAdmin, ClusterOps, JmxCredentials};

use super::plan::{ExpansionPlan, InstallerSpec, JmxSpec, PlanError};
use super::{AdminFactory, Deps, Region};

fn value_err(plan: &ExpansionPlan, message: String) -> PlanError {
    PlanError::Value { path: plan.name.clone(), message }
}

fn read_overrides(plan: &ExpansionPlan, p: &std::path::Path) -> Result<OverridesDoc, PlanError> {
    let path = plan.resolve(p);
    let text = std::fs::read_to_string(&path).map_err(|e| value_err(plan, format!("cannot read {}: {e}", path.display())))?;
    OverridesDoc::parse(&text).map_err(|e| value_err(plan, format!("{}: {e}", path.display())))
}

/// The JMX credentials the plan asks for.
pub fn jmx_credentials(plan: &ExpansionPlan) -> Result<JmxCredentials, PlanError> {
    match &plan.jmx {
        JmxSpec::Overrides => {
            let view = read_overrides(plan, &plan.source.overrides)?.view().map_err(|e| value_err(plan, e.to_string()))?;
            match view.cassandra.auth.users.get("jmx") {
                Some(c) => Ok(JmxCredentials::Given {
                    username: c.username.clone().unwrap_or_else(|| "jmxuser".into()),
                    password: c.password.clone().ok_or_else(|| value_err(plan, "jmx: from: overrides, but the source overrides set no cassandra.auth.jmx.password; use `from: env` or `from: pod-env`".into()))?,
                }),
                None => Err(value_err(plan, "jmx: from: overrides, but the source overrides have no cassandra.auth.jmx; use `from: env` (variables) or `from: pod-env`".into())),
            }
        }
        JmxSpec::Env { username_env, password_env } => {
            let get = |v: &str| std::env::var(v).map_err(|_| value_err(plan, format!("environment variable {v} (jmx) is not set")));
            Ok(JmxCredentials::Given { username: get(username_env)?, password: Secret::new(get(password_env)?) })
        }
        JmxSpec::PodEnv => Ok(JmxCredentials::PodEnvironment),
        JmxSpec::None => Ok(JmxCredentials::None),
    }
}

/// Every password in both overrides files, to redact from installer output.
pub fn overrides_redactor(plan: &ExpansionPlan) -> Redactor {
    let mut secrets = Vec::new();
    for p in [&plan.source.overrides, &plan.target.overrides] {
        if let Ok(view) = read_overrides(plan, p).and_then(|d| d.view().map_err(|e| value_err(plan, e.to_string()))) {
            secrets.extend(view.cassandra.auth.users.values().filter_map(|c| c.password.clone()));
        }
    }
    if let Ok(JmxCredentials::Given { password, .. }) = jmx_credentials(plan) {
        secrets.push(password);
    }
    Redactor::new(secrets)
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
        let mut a = NodetoolOverExec::new(cluster, &spec.namespace, pod, Some(&spec.container), self.credentials.clone());
        a.rebuild_timeout = self.plan.rebuild.timeout.0;
        Arc::new(a)
    }
}

/// Connects to both clusters and builds the installer and nodetool access for the plan.
pub async fn connect(plan: &ExpansionPlan) -> Result<Deps, crate::ports::ClusterError> {
    let kc = |p: &Option<PathBuf>| p.as_ref().map(|p| plan.resolve(p));
    let source: Arc<dyn ClusterOps> = Arc::new(KubeCluster::connect(kc(&plan.source.kubeconfig).as_deref(), Some(&plan.source.context)).await?);
    let target: Arc<dyn ClusterOps> = Arc::new(KubeCluster::connect(kc(&plan.target.kubeconfig).as_deref(), Some(&plan.target.context)).await?);
    let credentials = jmx_credentials(plan).map_err(|e| crate::ports::ClusterError::Config(e.to_string()))?;
    let redactor = overrides_redactor(plan);
    let installer: Arc<dyn crate::ports::HybridInstaller> = match &plan.installer {
        InstallerSpec::Apigeectl { program, workdir } => {
            let mut a = Apigeectl::new(program.as_ref().map_or_else(|| PathBuf::from("apigeectl"), |p| plan.resolve(p)), &plan.target.context);
            a.workdir = workdir.as_ref().map(|w| plan.resolve(w));
            a.kubeconfig = kc(&plan.target.kubeconfig);
            a.redactor = redactor;
            a.poll_interval = plan.timeouts.poll.0;
            Arc::new(a)
        }
        InstallerSpec::Helm { program, charts, org_release, environments, env_groups } => Arc::new(Helm {
            program: program.as_ref().map_or_else(|| PathBuf::from("helm"), |p| plan.resolve(p)),
            charts_dir: plan.resolve(charts),
            namespace: plan.target.namespace.clone(),
            org_release: org_release.clone(),
            environments: environments.clone(),
            env_groups: env_groups.clone(),
            kubeconfig: kc(&plan.target.kubeconfig),
            context: plan.target.context.clone(),
            redactor,
            command_timeout: plan.timeouts.install.0,
        }),
    };
    let admins = Arc::new(Admins { source: source.clone(), target: target.clone(), plan: plan.clone(), credentials });
    Ok(Deps { source, target, installer, admins })
}
