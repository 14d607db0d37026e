//! [`Apigeectl`] and [`Helm`]: [`HybridInstaller`] as subprocesses.
//!
//! Every argv comes from a pure function ([`apigeectl_argv`], [`helm_releases`]) that is
//! unit-tested. The kubeconfig context is pinned without touching the user's kubeconfig: the
//! child gets `KUBECONFIG=<a file that only selects the context>:<the user's kubeconfig>`
//! (kubectl merges the list, and the first file's `current-context` wins). That file holds no
//! credentials.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

use super::redact::Redactor;
use crate::expansion::HybridVersion;
use crate::ports::{HybridInstaller, InstallerError, Operation};

/// The apigeectl arguments for an operation.
pub fn apigeectl_argv(op: Operation, overrides: &Path) -> Vec<String> {
    let f = overrides.display().to_string();
    let words: &[&str] = match op {
        Operation::Init => &["init"],
        Operation::Apply => &["apply"],
        Operation::ApplyDatastore => &["apply", "--datastore"],
        Operation::CheckReady => &["check-ready"],
        // `--all`: every component, the datastore included (apigeectl's own order).
        Operation::Delete => &["delete", "--all"],
    };
    words.iter().map(|w| (*w).to_owned()).chain(["-f".to_owned(), f]).collect()
}

/// Runs a program with the context pinned; returns combined output, or an error with the last
/// lines, redacted.
async fn run(
    program: &Path,
    args: &[String],
    cwd: Option<&Path>,
    kubeconfig: Option<&Path>,
    context: &str,
    redactor: &Redactor,
    timeout: Duration,
) -> Result<String, InstallerError> {
    let shown = format!("{} {}", program.display(), args.join(" "));
    let fail = |message: String| InstallerError {
        command: redactor.redact(&shown),
        context: Some(context.to_owned()),
        message: redactor.redact(&message),
    };
    // A private directory (0700, random name) holds the selector: another local user can neither
    // pre-create it as a symlink nor put their own server under this context name.
    let private = tempfile::Builder::new()
        .prefix("apigee-multiregion-")
        .tempdir()
        .map_err(|e| fail(format!("cannot create a private temporary directory: {e}")))?;
    let selector = private.path().join("context.yaml");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&selector).map_err(|e| fail(format!("cannot write {}: {e}", selector.display())))?;
        f.write_all(format!("apiVersion: v1\nkind: Config\ncurrent-context: {context:?}\n").as_bytes())
            .map_err(|e| fail(format!("cannot write {}: {e}", selector.display())))?;
    }
    let base = kubeconfig.map(Path::to_path_buf).or_else(super::default_kubeconfig).unwrap_or_default();
    let chain = std::env::join_paths([selector.clone(), base]).map_err(|e| fail(e.to_string()))?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).env("KUBECONFIG", chain).stdin(std::process::Stdio::null()).kill_on_drop(true);
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let result = tokio::time::timeout(timeout, cmd.output()).await;
    drop(private);
    let output = result
        .map_err(|_| fail(format!("did not finish within {}s", timeout.as_secs())))?
        .map_err(|e| fail(format!("cannot run: {e}")))?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if output.status.success() {
        Ok(redactor.redact(&text))
    } else {
        let tail: Vec<&str> = text.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
        Err(fail(format!(
            "exit status {}: {}",
            output.status.code().map_or("signal".into(), |c| c.to_string()),
            tail.join("\n")
        )))
    }
}

/// apigeectl (hybrid 1.11 and older).
#[derive(Debug, Clone)]
pub struct Apigeectl {
    /// The apigeectl program.
    pub program: PathBuf,
    /// The directory apigeectl runs in (its install directory, where `overrides/` usually is).
    pub workdir: Option<PathBuf>,
    /// The kubeconfig (default: `$KUBECONFIG` or `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    /// The context to act on.
    pub context: String,
    /// Secrets to remove from anything shown (the overrides' passwords).
    pub redactor: Redactor,
    /// Time limit of one command.
    pub command_timeout: Duration,
    /// Pause between `check-ready` polls.
    pub poll_interval: Duration,
}

impl Apigeectl {
    /// apigeectl for a context, with defaults for the rest.
    pub fn new(program: PathBuf, context: &str) -> Self {
        Self {
            program,
            workdir: None,
            kubeconfig: None,
            context: context.to_owned(),
            redactor: Redactor::default(),
            command_timeout: Duration::from_secs(1800),
            poll_interval: Duration::from_secs(10),
        }
    }

    async fn op(&self, op: Operation, overrides: &Path) -> Result<String, InstallerError> {
        run(
            &self.program,
            &apigeectl_argv(op, overrides),
            self.workdir.as_deref(),
            self.kubeconfig.as_deref(),
            &self.context,
            &self.redactor,
            self.command_timeout,
        )
        .await
    }
}

#[async_trait]
impl HybridInstaller for Apigeectl {
    fn name(&self) -> &'static str {
        "apigeectl"
    }

    fn describe(&self, op: Operation, overrides: &Path) -> Vec<String> {
        vec![format!(
            "kubectl config use-context {} && apigeectl {}",
            self.context,
            apigeectl_argv(op, overrides).join(" ")
        )]
    }

    async fn init(&self, overrides: &Path) -> Result<(), InstallerError> {
        self.op(Operation::Init, overrides).await.map(|_| ())
    }

    async fn apply(&self, overrides: &Path) -> Result<(), InstallerError> {
        self.op(Operation::Apply, overrides).await.map(|_| ())
    }

    async fn apply_datastore(&self, overrides: &Path) -> Result<(), InstallerError> {
        self.op(Operation::ApplyDatastore, overrides).await.map(|_| ())
    }

    async fn wait_ready(&self, overrides: &Path, timeout: Duration) -> Result<(), InstallerError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.op(Operation::CheckReady, overrides).await {
                Ok(_) => return Ok(()),
                Err(e) if tokio::time::Instant::now() + self.poll_interval >= deadline => {
                    return Err(InstallerError {
                        message: format!("not ready after {}s: {}", timeout.as_secs(), e.message),
                        ..e
                    });
                }
                Err(_) => tokio::time::sleep(self.poll_interval).await,
            }
        }
    }

    async fn delete(&self, overrides: &Path) -> Result<(), InstallerError> {
        self.op(Operation::Delete, overrides).await.map(|_| ())
    }
}

/// Helm (hybrid 1.11 and newer): the CRDs first with kubectl, then one release per chart, in
/// install order, each pinned to the context with `--kube-context`.
///
/// `helm --wait` does not mean Cassandra is ready: the charts create custom resources and the
/// operator creates the StatefulSet later. So [`HybridInstaller::wait_ready`] is not Helm's to
/// answer; the engine judges readiness from the cluster (the datastore `running` at its current
/// generation, every Cassandra pod Ready).
#[derive(Debug, Clone)]
pub struct Helm {
    /// The helm program.
    pub program: PathBuf,
    /// The kubectl program (applies the CRDs).
    pub kubectl: PathBuf,
    /// The folder holding the Apigee charts (`apigee-operator/`, `apigee-datastore/`, ...).
    pub charts_dir: PathBuf,
    /// Apigee's namespace.
    pub namespace: String,
    /// The hybrid release of the charts: where the operator release lives.
    pub version: HybridVersion,
    /// The organization release name (chart `apigee-org`).
    pub org_release: String,
    /// Environments (`apigee-env`, one release each).
    pub environments: Vec<String>,
    /// Environment groups (`apigee-virtualhost`, one release each).
    pub env_groups: Vec<String>,
    /// The kubeconfig.
    pub kubeconfig: Option<PathBuf>,
    /// The context.
    pub context: String,
    /// Secrets to remove from output.
    pub redactor: Redactor,
    /// Time limit of one command.
    pub command_timeout: Duration,
}

/// One `helm upgrade --install`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// Release name.
    pub name: String,
    /// Chart folder name.
    pub chart: String,
    /// Extra `--set` values.
    pub set: Vec<String>,
}

/// The releases of a full install, in order (DOMAIN: operator, datastore, redis, telemetry,
/// ingress-manager, org, one env per environment, one virtualhost per group).
pub fn helm_releases(org_release: &str, environments: &[String], env_groups: &[String]) -> Vec<Release> {
    let r = |name: &str, chart: &str, set: Vec<String>| Release { name: name.into(), chart: chart.into(), set };
    let mut v = vec![
        r("operator", "apigee-operator", vec![]),
        r("datastore", "apigee-datastore", vec![]),
        r("redis", "apigee-redis", vec![]),
        r("telemetry", "apigee-telemetry", vec![]),
        r("ingress-manager", "apigee-ingress-manager", vec![]),
        r(org_release, "apigee-org", vec![]),
    ];
    v.extend(environments.iter().map(|e| r(e, "apigee-env", vec![format!("env={e}")])));
    v.extend(env_groups.iter().map(|g| r(g, "apigee-virtualhost", vec![format!("envgroup={g}")])));
    v
}

/// The releases of an uninstall, in the documented order: environments, environment groups
/// (virtual hosts), the org, then the datastore, then the rest (the operator last, so it can
/// process the datastore's removal).
pub fn helm_uninstall_order(org_release: &str, environments: &[String], env_groups: &[String]) -> Vec<String> {
    let mut v: Vec<String> = environments.to_vec();
    v.extend(env_groups.iter().cloned());
    v.push(org_release.to_owned());
    v.extend(["datastore", "redis", "telemetry", "ingress-manager", "operator"].map(str::to_owned));
    v
}

/// A release that is already gone: `helm uninstall` of a missing release fails with this (Helm
/// 3: `Error: uninstall: Release not loaded: NAME: release: not found`).
fn already_uninstalled(e: &InstallerError) -> bool {
    e.message.contains("release: not found")
}

/// The operator's release name.
const OPERATOR: &str = "operator";

impl Helm {
    /// The namespace a release lives in: the operator's depends on the hybrid release.
    pub fn release_namespace(&self, release: &str) -> &str {
        if release == OPERATOR { self.version.operator_namespace(&self.namespace) } else { &self.namespace }
    }

    /// The CRD folder of the operator chart, applied before any chart.
    pub fn crds_dir(&self) -> PathBuf {
        self.charts_dir.join("apigee-operator").join("etc").join("crds").join("default")
    }

    /// The kubectl arguments that apply the CRDs (Apigee's documented command, context pinned).
    pub fn crds_argv(&self) -> Vec<String> {
        vec![
            "--context".to_owned(),
            self.context.clone(),
            "apply".to_owned(),
            "-k".to_owned(),
            format!("{}/", self.crds_dir().display()),
            "--server-side".to_owned(),
            "--force-conflicts".to_owned(),
            "--validate=false".to_owned(),
        ]
    }

    /// The argv of one release's uninstall: `--wait` (Helm 3.7+) waits until its resources are
    /// gone, so the datastore's removal is processed while the operator still runs; `--timeout`
    /// is the command's own limit (Helm's default, 5 minutes, is short for a remove-dc that
    /// decommissions a large datacenter's nodes one at a time).
    pub fn uninstall_argv(&self, release: &str) -> Vec<String> {
        let timeout = format!("{}s", self.command_timeout.as_secs());
        [
            "uninstall",
            release,
            "--namespace",
            self.release_namespace(release),
            "--wait",
            "--timeout",
            &timeout,
            "--kube-context",
            &self.context,
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// The argv of one release's upgrade. The operator's namespace is created when it is
    /// `apigee-system` (1.11, 1.12), as Apigee's install pages do.
    pub fn upgrade_argv(&self, release: &Release, overrides: &Path) -> Vec<String> {
        let namespace = self.release_namespace(&release.name);
        let mut a = vec![
            "upgrade".to_owned(),
            release.name.clone(),
            format!("{}/", self.charts_dir.join(&release.chart).display()),
            "--install".to_owned(),
            "--namespace".to_owned(),
            namespace.to_owned(),
        ];
        if release.name == OPERATOR && namespace != self.namespace {
            a.push("--create-namespace".to_owned());
        }
        a.extend(["--atomic", "--wait", "--kube-context", &self.context, "-f"].map(str::to_owned));
        a.push(overrides.display().to_string());
        for s in &release.set {
            a.push("--set".into());
            a.push(s.clone());
        }
        a
    }

    fn shown(&self, program: &str, argv: &[String]) -> String {
        format!("{program} {}", argv.join(" "))
    }

    async fn helm(&self, args: &[String]) -> Result<String, InstallerError> {
        run(&self.program, args, None, self.kubeconfig.as_deref(), &self.context, &self.redactor, self.command_timeout)
            .await
    }

    /// The CRDs, then the operator release.
    fn init_commands(&self, overrides: &Path) -> Vec<String> {
        let mut v = vec![self.shown("kubectl", &self.crds_argv())];
        v.extend(
            helm_releases(&self.org_release, &[], &[])
                .iter()
                .filter(|r| r.name == OPERATOR)
                .map(|r| self.shown("helm", &self.upgrade_argv(r, overrides))),
        );
        v
    }
}

#[async_trait]
impl HybridInstaller for Helm {
    fn name(&self) -> &'static str {
        "helm"
    }

    fn describe(&self, op: Operation, overrides: &Path) -> Vec<String> {
        let releases = helm_releases(&self.org_release, &self.environments, &self.env_groups);
        let chosen: Vec<&Release> = match op {
            Operation::Init => return self.init_commands(overrides),
            Operation::ApplyDatastore => releases.iter().filter(|r| r.name == "datastore").collect(),
            // Readiness is asked of the cluster, not of Helm.
            Operation::CheckReady => vec![],
            Operation::Apply => releases.iter().filter(|r| r.name != OPERATOR).collect(),
            Operation::Delete => {
                return helm_uninstall_order(&self.org_release, &self.environments, &self.env_groups)
                    .iter()
                    .map(|r| self.shown("helm", &self.uninstall_argv(r)))
                    .collect();
            }
        };
        chosen.iter().map(|r| self.shown("helm", &self.upgrade_argv(r, overrides))).collect()
    }

    async fn init(&self, overrides: &Path) -> Result<(), InstallerError> {
        // Apigee's CRDs are not in the charts: applied first, as the install pages do (a fresh
        // cluster has none, and no chart installs without them).
        if !self.crds_dir().is_dir() {
            return Err(InstallerError {
                command: self.shown("kubectl", &self.crds_argv()),
                context: Some(self.context.clone()),
                message: format!(
                    "{} is not a folder: installer.charts must be the folder holding apigee-operator/ (with its etc/crds/default/) of hybrid {}",
                    self.crds_dir().display(),
                    self.version
                ),
            });
        }
        run(
            &self.kubectl,
            &self.crds_argv(),
            None,
            self.kubeconfig.as_deref(),
            &self.context,
            &self.redactor,
            self.command_timeout,
        )
        .await?;
        for r in helm_releases(&self.org_release, &[], &[]).iter().filter(|r| r.name == OPERATOR) {
            self.helm(&self.upgrade_argv(r, overrides)).await?;
        }
        Ok(())
    }

    async fn apply(&self, overrides: &Path) -> Result<(), InstallerError> {
        // The operator release was installed by `init`.
        for r in helm_releases(&self.org_release, &self.environments, &self.env_groups)
            .into_iter()
            .filter(|r| r.name != OPERATOR)
        {
            self.helm(&self.upgrade_argv(&r, overrides)).await?;
        }
        Ok(())
    }

    async fn apply_datastore(&self, overrides: &Path) -> Result<(), InstallerError> {
        for r in helm_releases(&self.org_release, &[], &[]).iter().filter(|r| r.name == "datastore") {
            self.helm(&self.upgrade_argv(r, overrides)).await?;
        }
        Ok(())
    }

    async fn wait_ready(&self, _overrides: &Path, _timeout: Duration) -> Result<(), InstallerError> {
        // Helm cannot tell: `--wait` covers the charts' own objects, not the Cassandra the
        // operator creates later. The engine waits on the cluster after every install.
        Ok(())
    }

    async fn delete(&self, _overrides: &Path) -> Result<(), InstallerError> {
        // A release already uninstalled (an earlier, interrupted run) is skipped.
        for r in helm_uninstall_order(&self.org_release, &self.environments, &self.env_groups) {
            match self.helm(&self.uninstall_argv(&r)).await {
                Err(e) if !already_uninstalled(&e) => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apigeectl_argv_matches_the_runbook() {
        let p = Path::new("overrides/overrides-west.yaml");
        assert_eq!(apigeectl_argv(Operation::Init, p), ["init", "-f", "overrides/overrides-west.yaml"]);
        assert_eq!(
            apigeectl_argv(Operation::ApplyDatastore, p),
            ["apply", "--datastore", "-f", "overrides/overrides-west.yaml"]
        );
        assert_eq!(apigeectl_argv(Operation::CheckReady, p), ["check-ready", "-f", "overrides/overrides-west.yaml"]);
        assert_eq!(apigeectl_argv(Operation::Delete, p), ["delete", "--all", "-f", "overrides/overrides-west.yaml"]);
    }

    #[test]
    fn helm_uninstalls_in_the_documented_order_and_skips_releases_already_gone() {
        let order = helm_uninstall_order("my-org", &["test".into(), "prod".into()], &["default-group".into()]);
        assert_eq!(
            order,
            [
                "test",
                "prod",
                "default-group",
                "my-org",
                "datastore",
                "redis",
                "telemetry",
                "ingress-manager",
                "operator"
            ]
        );
        let gone = |m: &str| InstallerError { command: "helm uninstall".into(), context: None, message: m.into() };
        assert!(already_uninstalled(&gone(
            "exit status 1: Error: uninstall: Release not loaded: test: release: not found"
        )));
        assert!(!already_uninstalled(&gone("exit status 1: Error: Kubernetes cluster unreachable")));
    }

    fn helm(version: &str) -> Helm {
        Helm {
            program: "helm".into(),
            kubectl: "kubectl".into(),
            charts_dir: "/charts".into(),
            namespace: "apigee".into(),
            version: version.parse().unwrap(),
            org_release: "my-org".into(),
            environments: vec!["test".into()],
            env_groups: vec!["default-group".into()],
            kubeconfig: None,
            context: "west".into(),
            redactor: Redactor::default(),
            command_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn helm_installs_charts_in_the_documented_order() {
        let r = helm_releases("my-org", &["test".into()], &["default-group".into()]);
        let names: Vec<&str> = r.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["operator", "datastore", "redis", "telemetry", "ingress-manager", "my-org", "test", "default-group"]
        );
        assert_eq!(r[6].set, ["env=test"]);
        let h = helm("1.13.1");
        assert_eq!(
            h.upgrade_argv(&r[1], Path::new("o.yaml")).join(" "),
            "upgrade datastore /charts/apigee-datastore/ --install --namespace apigee --atomic --wait --kube-context west -f o.yaml"
        );
        assert_eq!(
            h.uninstall_argv("datastore").join(" "),
            "uninstall datastore --namespace apigee --wait --timeout 1s --kube-context west"
        );
        assert_eq!(
            h.describe(Operation::Delete, Path::new("o.yaml"))[0],
            "helm uninstall test --namespace apigee --wait --timeout 1s --kube-context west"
        );
        assert_eq!(h.describe(Operation::ApplyDatastore, Path::new("o.yaml")).len(), 1);
        // A dry run of init + apply: the CRDs first, then each chart once, in order.
        let shown: Vec<String> = [Operation::Init, Operation::CheckReady, Operation::Apply, Operation::CheckReady]
            .into_iter()
            .flat_map(|op| h.describe(op, Path::new("o.yaml")))
            .collect();
        assert_eq!(
            shown[0],
            "kubectl --context west apply -k /charts/apigee-operator/etc/crds/default/ --server-side --force-conflicts --validate=false"
        );
        let charts: Vec<&str> = shown[1..].iter().map(|c| c.split_whitespace().nth(2).unwrap_or("")).collect();
        assert_eq!(
            charts,
            ["operator", "datastore", "redis", "telemetry", "ingress-manager", "my-org", "test", "default-group"]
        );
    }

    #[test]
    fn the_operator_release_lives_in_apigee_system_until_1_12_and_in_the_apigee_namespace_from_1_13() {
        let operator = &helm_releases("my-org", &[], &[])[0];
        for (version, namespace, created) in [
            ("1.11.2", "apigee-system", true),
            ("1.12", "apigee-system", true),
            ("1.13.0", "apigee", false),
            ("1.15.1", "apigee", false),
        ] {
            let h = helm(version);
            let argv = h.upgrade_argv(operator, Path::new("o.yaml")).join(" ");
            assert!(argv.contains(&format!("--namespace {namespace} ")), "{version}: {argv}");
            assert_eq!(argv.contains("--create-namespace"), created, "{version}: {argv}");
            assert!(h.uninstall_argv("operator").join(" ").contains(&format!("--namespace {namespace} ")));
            // Every other release stays in the Apigee namespace.
            assert!(h.uninstall_argv("datastore").join(" ").contains("--namespace apigee "));
        }
    }

    #[tokio::test]
    async fn helm_init_without_the_crd_folder_says_what_the_charts_folder_must_hold_and_runs_nothing() {
        let mut h = helm("1.12.1");
        h.charts_dir = "/nonexistent/charts".into();
        h.program = "/nonexistent/helm".into();
        let e = h.init(Path::new("o.yaml")).await.unwrap_err();
        assert!(
            e.command
                .starts_with("kubectl --context west apply -k /nonexistent/charts/apigee-operator/etc/crds/default/"),
            "{e:?}"
        );
        assert!(e.message.contains("must be the folder holding apigee-operator/"), "{}", e.message);
        assert!(e.message.contains("hybrid 1.12.1"), "{}", e.message);
    }
}
