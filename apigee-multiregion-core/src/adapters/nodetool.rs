//! [`NodetoolOverExec`]: [`CassandraAdmin`] by running `nodetool` in the Cassandra container.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::nodetool::{
    DescribeCluster, DescribeRing, NetStats, StatusReport, StreamLimit, TableStats, Throughput, needs_mebibytes,
    parse_describecluster, parse_describering, parse_netstats, parse_status, parse_stream_throughput, parse_tablestats,
};
use crate::nodetool::{RemovalStatus, parse_removal_status};
use crate::ports::{AdminError, CassandraAdmin, ClusterOps, ExecArg, ExecOutput, JmxCredentials};

/// nodetool on one pod, through [`ClusterOps::exec`].
pub struct NodetoolOverExec {
    cluster: Arc<dyn ClusterOps>,
    namespace: String,
    pod: String,
    container: Option<String>,
    credentials: JmxCredentials,
    /// For quick commands (status, netstats, ...).
    pub command_timeout: Duration,
    /// For `rebuild`, which returns only when streaming is over.
    pub rebuild_timeout: Duration,
}

impl NodetoolOverExec {
    /// nodetool on `namespace/pod` (container `apigee-cassandra` unless given).
    pub fn new(
        cluster: Arc<dyn ClusterOps>,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        credentials: JmxCredentials,
    ) -> Self {
        Self {
            cluster,
            namespace: namespace.to_owned(),
            pod: pod.to_owned(),
            container: container.map(str::to_owned),
            credentials,
            command_timeout: Duration::from_secs(120),
            rebuild_timeout: Duration::from_secs(24 * 3600),
        }
    }

    // The span names the subcommand only: never the credentials, never the whole argv.
    #[tracing::instrument(name = "nodetool", level = "debug", skip_all, fields(pod = %self.pod, subcommand = args.first().copied().unwrap_or_default()))]
    async fn run(&self, args: &[&str], timeout: Duration) -> Result<ExecOutput, AdminError> {
        let command = nodetool_command(&self.credentials, args);
        let out = self.cluster.exec(&self.namespace, &self.pod, self.container.as_deref(), &command, timeout).await?;
        if out.success { Ok(out) } else { Err(classify_failure(&self.pod, args, &out)) }
    }
}

/// Runs nodetool with the password in a private file (`-pwf`), never in its argv (`-pw` would
/// show it to `ps` in the container): the file is created 0600 by `mktemp` and removed when the
/// shell exits. `$1` is the user; the password comes from `$APIGEE_MR_SECRET_0` (see
/// [`super::exec_argv`]) and is unset before nodetool starts.
const NODETOOL_PWF: &str = r#"u="$1"; shift; umask 077; f=$(mktemp "${TMPDIR:-/tmp}/.nodetool-pw.XXXXXX") || exit 1; trap 'rm -f "$f"' EXIT HUP INT TERM; printf '%s %s\n' "$u" "$APIGEE_MR_SECRET_0" > "$f"; unset APIGEE_MR_SECRET_0; nodetool -u "$u" -pwf "$f" "$@""#;

/// The same with the credentials of the pod's own environment.
const NODETOOL_PWF_POD_ENV: &str = r#"umask 077; f=$(mktemp "${TMPDIR:-/tmp}/.nodetool-pw.XXXXXX") || exit 1; trap 'rm -f "$f"' EXIT HUP INT TERM; printf '%s %s\n' "$APIGEE_JMX_USER" "$APIGEE_JMX_PASSWORD" > "$f"; nodetool -u "$APIGEE_JMX_USER" -pwf "$f" "$@""#;

/// The exec command for a nodetool call with these credentials. The password is never an
/// argument of any process.
pub fn nodetool_command(credentials: &JmxCredentials, args: &[&str]) -> Vec<ExecArg> {
    let mut cmd: Vec<ExecArg> = match credentials {
        JmxCredentials::Given { username, password } => vec![
            "sh".into(),
            "-c".into(),
            NODETOOL_PWF.into(),
            "sh".into(),
            ExecArg::Plain(username.clone()),
            ExecArg::Secret(password.clone()),
        ],
        JmxCredentials::PodEnvironment => vec!["sh".into(), "-c".into(), NODETOOL_PWF_POD_ENV.into(), "sh".into()],
        JmxCredentials::None => vec!["nodetool".into()],
    };
    cmd.extend(args.iter().map(|a| ExecArg::from(*a)));
    cmd
}

/// Maps a failed nodetool run to its cause, from what nodetool and the runtime printed.
pub fn classify_failure(pod: &str, args: &[&str], out: &ExecOutput) -> AdminError {
    let all = format!("{}\n{}\n{}", out.stdout, out.stderr, out.message.as_deref().unwrap_or(""));
    let pod = pod.to_owned();
    let first_line = |needle: &str| {
        all.lines()
            .find(|l| l.contains(needle))
            .map(|l| l.trim().trim_start_matches("nodetool: ").trim_start_matches("error: ").to_owned())
    };
    if all.contains("Invalid username or password")
        || all.contains("Authentication failed")
        || all.contains("FailedLoginException")
    {
        return AdminError::JmxAuthentication { pod };
    }
    if all.contains("Node is still rebuilding") {
        return AdminError::RebuildAlreadyRunning { pod };
    }
    if let Some(m) = first_line("Unable to find sufficient sources") {
        return AdminError::InsufficientSources { pod, message: m };
    }
    if let Some(m) = first_line("is not a valid datacenter") {
        let source_dc = args.last().copied().unwrap_or("").to_owned();
        return AdminError::InvalidSourceDatacenter { pod, source_dc, message: m };
    }
    if let Some(m) = first_line("Failed to connect").or_else(|| first_line("Connection refused")) {
        return AdminError::JmxUnreachable { pod, message: m };
    }
    if let Some(m) = first_line("Error while rebuilding node").or_else(|| first_line("Stream failed")) {
        return AdminError::StreamFailed { pod, reason: m };
    }
    let message = all
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("at ") && !l.starts_with("-- StackTrace"))
        .take(3)
        .collect::<Vec<_>>()
        .join(" / ");
    AdminError::Other { pod, command: args.first().copied().unwrap_or("").to_owned(), message }
}

#[async_trait]
impl CassandraAdmin for NodetoolOverExec {
    fn pod(&self) -> &str {
        &self.pod
    }

    async fn status(&self) -> Result<StatusReport, AdminError> {
        let out = self.run(&["status"], self.command_timeout).await?;
        parse_status(&out.stdout).map_err(|source| AdminError::Parse { pod: self.pod.clone(), source })
    }

    async fn describecluster(&self) -> Result<DescribeCluster, AdminError> {
        let out = self.run(&["describecluster"], self.command_timeout).await?;
        parse_describecluster(&out.stdout).map_err(|source| AdminError::Parse { pod: self.pod.clone(), source })
    }

    async fn describering(&self, keyspace: &str) -> Result<DescribeRing, AdminError> {
        let out = self.run(&["describering", "--", keyspace], self.command_timeout).await?;
        parse_describering(&out.stdout).map_err(|source| AdminError::Parse { pod: self.pod.clone(), source })
    }

    async fn tablestats(&self) -> Result<TableStats, AdminError> {
        let out = self.run(&["tablestats"], self.command_timeout).await?;
        parse_tablestats(&out.stdout).map_err(|source| AdminError::Parse { pod: self.pod.clone(), source })
    }

    async fn netstats(&self) -> Result<NetStats, AdminError> {
        let out = self.run(&["netstats"], self.command_timeout).await?;
        parse_netstats(&out.stdout).map_err(|source| AdminError::Parse { pod: self.pod.clone(), source })
    }

    async fn rebuild(&self, source_dc: &str) -> Result<(), AdminError> {
        self.run(&["rebuild", "--", source_dc], self.rebuild_timeout).await.map(|_| ())
    }

    async fn flush(&self) -> Result<(), AdminError> {
        self.run(&["flush"], self.command_timeout).await.map(|_| ())
    }

    async fn log(&self, tail_lines: Option<i64>) -> Result<String, AdminError> {
        Ok(self.cluster.logs(&self.namespace, &self.pod, self.container.as_deref(), tail_lines).await?)
    }

    async fn stream_throughput(&self, limit: StreamLimit) -> Result<Throughput, AdminError> {
        let verb = limit.get_verb();
        let out = match self.run(&[verb], self.command_timeout).await {
            // 4.1+ refuse to print a value that is not a whole number of megabits: ask in MiB/s.
            Err(AdminError::Other { message, .. }) if needs_mebibytes(&message) => {
                self.run(&[verb, "-m"], self.command_timeout).await?
            }
            other => other?,
        };
        parse_stream_throughput(limit, &out.stdout)
            .map_err(|source| AdminError::Parse { pod: self.pod.clone(), source })
    }

    async fn set_stream_throughput(&self, limit: StreamLimit, value: Throughput) -> Result<(), AdminError> {
        let args = value.set_args();
        let argv: Vec<&str> = std::iter::once(limit.set_verb()).chain(args.iter().map(String::as_str)).collect();
        self.run(&argv, self.command_timeout).await.map(|_| ())
    }

    async fn removenode(&self, host_id: &str) -> Result<(), AdminError> {
        // Blocks until every replica confirmed, like a rebuild: minutes to hours.
        self.run(&["removenode", "--", host_id], self.rebuild_timeout).await.map(|_| ())
    }

    async fn removenode_status(&self) -> Result<RemovalStatus, AdminError> {
        let out = self.run(&["removenode", "status"], self.command_timeout).await?;
        parse_removal_status(&out.stdout).map_err(|source| AdminError::Parse { pod: self.pod.clone(), source })
    }

    async fn assassinate(&self, address: &str) -> Result<(), AdminError> {
        self.run(&["assassinate", "--", address], self.command_timeout).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Secret;

    fn failed(stdout: &str, message: &str) -> ExecOutput {
        ExecOutput { stdout: stdout.into(), stderr: String::new(), success: false, message: Some(message.into()) }
    }

    #[test]
    fn the_password_is_a_secret_argument() {
        let c = JmxCredentials::Given { username: "jmxuser".into(), password: Secret::new("pw") };
        let cmd = nodetool_command(&c, &["status"]);
        assert!(format!("{cmd:?}").ends_with(r#""sh", "jmxuser", <redacted>, "status"]"#), "{cmd:?}");
    }

    /// Runs the command exactly as a container would (`sh`, with a stand-in `nodetool` on PATH
    /// that reports its argv and its password file).
    #[cfg(unix)]
    #[test]
    fn the_password_reaches_nodetool_through_a_private_file_never_its_argv() {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("nodetool");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho \"ARGV: $*\"\nenv | grep -c APIGEE_MR_SECRET || true\nwhile [ $# -gt 0 ]; do if [ \"$1\" = -pwf ]; then echo \"FILE: $(cat \"$2\")\"; echo \"MODE: $(stat -c %a \"$2\")\"; echo \"PATH: $2\"; fi; shift; done\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let c = JmxCredentials::Given { username: "jmxuser".into(), password: Secret::new("s3cret-pw$!'\"") };
        let (argv, stdin) = crate::adapters::exec_argv(&nodetool_command(&c, &["status"])).unwrap();
        let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());
        let mut child = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .env("PATH", path)
            .env("TMPDIR", dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.unwrap().expose().as_bytes()).unwrap();
        let out = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
        assert!(out.contains("ARGV: -u jmxuser -pwf ") && out.ends_with("") && out.contains(" status"), "{out}");
        assert!(!out.lines().next().unwrap_or("").contains("s3cret"), "the password is not in nodetool's argv: {out}");
        assert!(out.contains("\n0\n"), "nor in its environment: {out}");
        assert!(out.contains("FILE: jmxuser s3cret-pw$!'\"") && out.contains("MODE: 600"), "{out}");
        let file = out.lines().find_map(|l| l.strip_prefix("PATH: ")).unwrap();
        assert!(!std::path::Path::new(file).exists(), "the password file is removed afterwards");
    }

    #[test]
    fn still_rebuilding_means_running_not_failed() {
        let e = classify_failure(
            "p",
            &["rebuild", "--", "dc-1"],
            &failed("nodetool: Node is still rebuilding. Check nodetool netstats.", "exit 1"),
        );
        assert!(matches!(e, AdminError::RebuildAlreadyRunning { .. }));
    }

    #[test]
    fn an_unknown_source_dc_is_named() {
        let text =
            "nodetool: Provided datacenter 'dc-9' is not a valid datacenter, available datacenters are: dc-1,dc-2";
        let e = classify_failure("p", &["rebuild", "--", "dc-9"], &failed(text, "exit 1"));
        assert!(matches!(&e, AdminError::InvalidSourceDatacenter { source_dc, .. } if source_dc == "dc-9"), "{e}");
    }

    #[test]
    fn authentication_and_connection_failures_are_told_apart() {
        let auth = classify_failure("p", &["status"], &failed("error: Invalid username or password", "exit 2"));
        assert!(matches!(auth, AdminError::JmxAuthentication { .. }));
        let conn = classify_failure(
            "p",
            &["status"],
            &failed(
                "nodetool: Failed to connect to '127.0.0.1:7199' - ConnectException: 'Connection refused'.",
                "exit 1",
            ),
        );
        assert!(matches!(conn, AdminError::JmxUnreachable { .. }));
        let stream =
            classify_failure("p", &["rebuild"], &failed("error: Error while rebuilding node: Stream failed", "exit 2"));
        assert!(matches!(stream, AdminError::StreamFailed { .. }));
    }
}
