//! The preflight network probe, pure part: the command run in a short-lived pod on the host
//! network of a target node, the parsing of its output (one line per check), the choice of the
//! node, and the judgement as preflight findings. The engine (`expansion/steps/preflight.rs`)
//! creates the pod, runs the command through the ordinary exec path, and always deletes the pod.
//!
//! Output format, one line per check (fields separated by one space; the reason is the rest of
//! the line):
//! - `tcp <host> <port> ok`
//! - `tcp <host> <port> fail <exit code> <message>`
//! - `dns <hostname> ok <address>`
//! - `dns <hostname> fail <message>`
//!
//! Lines that start otherwise (a shell's noise) are ignored; a check without a line is a failure.

use std::collections::BTreeMap;
use std::fmt;

use crate::overrides::{Finding, Severity, Side};
use crate::ports::NodeFacts;

/// The probe pod's name: one per namespace, so a leftover from a crashed run is found and
/// replaced by the next run.
pub const PROBE_POD: &str = "apigee-multiregion-probe";

/// The label every object this tool creates on its own carries.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "apigee-multiregion");

/// One address and port to connect to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProbeTarget {
    /// The seed's address (as written into `multiRegionSeedHost`).
    pub host: String,
    /// The internode port.
    pub port: u16,
    /// The source pod it belongs to, for messages.
    pub pod: String,
}

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeCheck {
    /// A TCP connection to `host:port`.
    Tcp {
        /// Address.
        host: String,
        /// Port.
        port: u16,
        /// `Ok(())`, or why not.
        result: Result<(), TcpFailure>,
    },
    /// The node's own hostname resolved (`Ok(address)`) or not (`Err(message)`).
    Dns {
        /// The hostname.
        hostname: String,
        /// The address it resolved to, or the resolver's message.
        result: Result<String, String>,
    },
}

/// Why a TCP connection failed, classified from the exit code and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpFailure {
    /// No answer within the timeout: a firewall dropping the packets, or no route.
    Timeout,
    /// Actively refused: nothing listens on the port, or a firewall rejects.
    Refused,
    /// The probe had no tool to connect with.
    NoTool,
    /// Anything else, with the message.
    Other(String),
}

impl fmt::Display for TcpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str(
                "no answer within the connect timeout (packets dropped: a firewall or NSG rule, or no route)",
            ),
            Self::Refused => {
                f.write_str("connection refused (nothing listens on that port there, or a firewall rejects it)")
            }
            Self::NoTool => f.write_str(
                "the probe image has neither bash nor nc to connect with (set preflight.network_probe.image)",
            ),
            Self::Other(m) => write!(f, "{m}"),
        }
    }
}

/// The probe's shell script: POSIX `sh`; connects with `bash`'s `/dev/tcp` when bash exists
/// (the Cassandra image, a host), else `nc -z` (busybox), each bounded by `timeout` when present;
/// resolves the node's hostname with `getent hosts`, else `nslookup`. Arguments: the connect
/// timeout in seconds, then host and port pairs. Every output line is one check.
const SCRIPT: &str = r#"t="$1"; shift
oneline() { tr '\n\r' '  ' | cut -c1-200; }
bounded() { if command -v timeout >/dev/null 2>&1; then timeout "$t" "$@"; else "$@"; fi; }
while [ "$#" -ge 2 ]; do
  h="$1"; p="$2"; shift 2
  if command -v bash >/dev/null 2>&1; then
    out=$(bounded bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$h" "$p" 2>&1 </dev/null); rc=$?
  elif command -v nc >/dev/null 2>&1; then
    out=$(bounded nc -z -w "$t" "$h" "$p" 2>&1 </dev/null); rc=$?
  else
    echo "tcp $h $p fail 127 no-tool"; continue
  fi
  if [ "$rc" -eq 0 ]; then echo "tcp $h $p ok"; else echo "tcp $h $p fail $rc $(printf '%s' "$out" | oneline)"; fi
done
n=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)
if command -v getent >/dev/null 2>&1; then
  a=$(getent hosts "$n" 2>&1 | head -n 1 | cut -d' ' -f1)
else
  a=$(nslookup "$n" 2>/dev/null | sed -n 's/^Address[^:]*: *\([0-9a-fA-F.:]*\).*/\1/p' | tail -n 1)
fi
if [ -n "$a" ]; then echo "dns $n ok $a"; else echo "dns $n fail does not resolve"; fi
"#;

/// The argv of the probe: `sh -c <script> probe <connect timeout> <host> <port> ...`.
pub fn probe_command(targets: &[ProbeTarget], connect_timeout_secs: u64) -> Vec<String> {
    let mut argv = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        SCRIPT.to_owned(),
        "probe".to_owned(),
        connect_timeout_secs.max(1).to_string(),
    ];
    for t in targets {
        argv.push(t.host.clone());
        argv.push(t.port.to_string());
    }
    argv
}

fn classify(code: &str, message: &str) -> TcpFailure {
    let lower = message.to_ascii_lowercase();
    match code {
        // `timeout` exits 124 (coreutils) or is killed by TERM (143, busybox).
        "124" | "143" | "137" => TcpFailure::Timeout,
        "127" if message.trim() == "no-tool" => TcpFailure::NoTool,
        _ if lower.contains("refused") => TcpFailure::Refused,
        _ if lower.contains("timed out") || lower.contains("timeout") => TcpFailure::Timeout,
        _ if message.trim().is_empty() => TcpFailure::Other(format!("the connection failed (exit code {code})")),
        _ => TcpFailure::Other(message.trim().to_owned()),
    }
}

/// Parses the probe's output: one [`ProbeCheck`] per recognised line, in order.
pub fn parse_probe_output(stdout: &str) -> Vec<ProbeCheck> {
    let mut out = Vec::new();
    for line in stdout.lines() {
        let mut f = line.trim_end().splitn(5, ' ');
        match (f.next(), f.next(), f.next(), f.next()) {
            (Some("tcp"), Some(host), Some(port), Some(verdict)) => {
                let Ok(port) = port.parse() else { continue };
                let rest = f.next().unwrap_or_default();
                let result = match verdict {
                    "ok" => Ok(()),
                    "fail" => {
                        let (code, message) = rest.split_once(' ').unwrap_or((rest, ""));
                        Err(classify(code, message))
                    }
                    _ => continue,
                };
                out.push(ProbeCheck::Tcp { host: host.to_owned(), port, result });
            }
            (Some("dns"), Some(hostname), Some(verdict), first) => {
                let rest: Vec<&str> = first.into_iter().chain(f).collect();
                let rest = rest.join(" ");
                let result = match verdict {
                    "ok" => Ok(rest),
                    "fail" => Err(rest),
                    _ => continue,
                };
                out.push(ProbeCheck::Dns { hostname: hostname.to_owned(), result });
            }
            _ => {}
        }
    }
    out
}

/// The node the probe runs on: the first (by name) Ready, schedulable node carrying the
/// `selector` label (Cassandra's nodeSelector), so the probe leaves from where Cassandra will.
/// `Some((node, matched))`: `matched` is false when no node carries the label and another Ready
/// node was taken. `None`: no Ready schedulable node at all.
pub fn choose_probe_node(nodes: &[NodeFacts], selector: Option<(&str, &str)>) -> Option<(String, bool)> {
    let mut usable: Vec<&NodeFacts> = nodes.iter().filter(|n| n.ready && !n.unschedulable).collect();
    usable.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some((k, v)) = selector
        && let Some(n) = usable.iter().find(|n| n.labels.get(k).map(String::as_str) == Some(v))
    {
        return Some((n.name.clone(), true));
    }
    usable.first().map(|n| (n.name.clone(), selector.is_none()))
}

fn cluster_finding(severity: Severity, code: &'static str, message: String) -> Finding {
    Finding { severity, code, message, path: String::new(), side: Side::Target, line: None }
}

/// Findings for the probe's checks, run from `node`: one error per seed whose port did not
/// answer (a seed with no output line counts as failed), one per unresolved hostname.
pub fn judge_probe(node: &str, targets: &[ProbeTarget], checks: &[ProbeCheck], island: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    let tcp: BTreeMap<(&str, u16), &Result<(), TcpFailure>> = checks
        .iter()
        .filter_map(|c| match c {
            ProbeCheck::Tcp { host, port, result } => Some(((host.as_str(), *port), result)),
            ProbeCheck::Dns { .. } => None,
        })
        .collect();
    let from = if island {
        "the new region's node subnet (island mode: Cassandra uses node IPs)"
    } else {
        "the new region's node and pod ranges"
    };
    for t in targets {
        let why = match tcp.get(&(t.host.as_str(), t.port)) {
            Some(Ok(())) => continue,
            Some(Err(e)) => e.to_string(),
            None => "the probe reported nothing for it (it stopped early)".to_owned(),
        };
        out.push(cluster_finding(
            Severity::Error,
            "internode-port-closed",
            format!(
                "from target node {node}, seed {} ({}) does not accept TCP {}: {why}. Open the firewall/NSG rule for TCP {} from {from} to {} (and back), then run again",
                t.host, t.pod, t.port, t.port, t.host
            ),
        ));
    }
    let mut dns_seen = false;
    for c in checks {
        if let ProbeCheck::Dns { hostname, result } = c {
            dns_seen = true;
            if let Err(why) = result {
                out.push(cluster_finding(
                    Severity::Error,
                    "node-hostname-unresolved",
                    format!(
                        "on target node {node}, the node's own hostname `{hostname}` does not resolve ({why}): Cassandra on the host network needs it; add it to the node's DNS or /etc/hosts{}",
                        if island { " (island mode: the pods use the node's resolver, dnsPolicy ClusterFirstWithHostNet)" } else { "" }
                    ),
                ));
            }
        }
    }
    if !dns_seen {
        out.push(cluster_finding(
            Severity::Warning,
            "node-hostname-unchecked",
            format!("the probe on target node {node} did not report whether the node's hostname resolves"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str, port: u16) -> ProbeTarget {
        ProbeTarget { host: host.into(), port, pod: format!("pod-{host}") }
    }

    #[test]
    fn parses_one_check_per_line_and_ignores_noise() {
        let out = "tcp 10.0.0.10 7001 ok\nbash: warning: noise\ntcp 10.0.0.11 7001 fail 1 bash: connect: Connection refused\ntcp 10.0.0.12 7001 fail 124 \ndns node-a ok 10.2.0.1\n";
        let got = parse_probe_output(out);
        assert_eq!(
            got,
            [
                ProbeCheck::Tcp { host: "10.0.0.10".into(), port: 7001, result: Ok(()) },
                ProbeCheck::Tcp { host: "10.0.0.11".into(), port: 7001, result: Err(TcpFailure::Refused) },
                ProbeCheck::Tcp { host: "10.0.0.12".into(), port: 7001, result: Err(TcpFailure::Timeout) },
                ProbeCheck::Dns { hostname: "node-a".into(), result: Ok("10.2.0.1".into()) },
            ]
        );
    }

    #[test]
    fn classifies_failures_and_a_missing_tool() {
        let got = parse_probe_output(
            "tcp h 1 fail 127 no-tool\ntcp h 2 fail 1 nc: h (1.2.3.4:2): Operation timed out\ntcp h 3 fail 1 \ntcp h 4 fail 2 No route to host\ndns n fail does not resolve\ntcp h x fail\n",
        );
        let r: Vec<String> = got
            .iter()
            .map(|c| match c {
                ProbeCheck::Tcp { result: Err(e), .. } => format!("{e:?}"),
                ProbeCheck::Dns { result, .. } => format!("{result:?}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            r,
            [
                "NoTool",
                "Timeout",
                "Other(\"the connection failed (exit code 1)\")",
                "Other(\"No route to host\")",
                "Err(\"does not resolve\")"
            ]
        );
    }

    #[test]
    fn a_closed_port_names_node_seed_port_and_fix_and_a_silent_seed_fails_too() {
        let targets = [target("10.1.0.1", 7001), target("10.1.0.2", 7001), target("10.1.0.3", 7001)];
        let checks =
            parse_probe_output("tcp 10.1.0.1 7001 ok\ntcp 10.1.0.2 7001 fail 1 Connection refused\ndns n ok 1.1.1.1\n");
        let f = judge_probe("node-b", &targets, &checks, true);
        assert_eq!(f.len(), 2, "{f:#?}");
        assert!(f.iter().all(|f| f.severity == Severity::Error && f.code == "internode-port-closed"));
        let m = &f[0].message;
        assert!(
            m.contains("node-b") && m.contains("10.1.0.2") && m.contains("TCP 7001") && m.contains("refused"),
            "{m}"
        );
        assert!(m.contains("firewall/NSG rule for TCP 7001") && m.contains("island"), "{m}");
        assert!(f[1].message.contains("10.1.0.3") && f[1].message.contains("reported nothing"), "{}", f[1].message);
    }

    #[test]
    fn all_open_and_resolving_is_no_finding_and_dns_failure_is_one() {
        let targets = [target("10.1.0.1", 7000)];
        assert!(
            judge_probe("n", &targets, &parse_probe_output("tcp 10.1.0.1 7000 ok\ndns n ok ::1\n"), false).is_empty()
        );
        let f = judge_probe(
            "n",
            &targets,
            &parse_probe_output("tcp 10.1.0.1 7000 ok\ndns n fail does not resolve\n"),
            true,
        );
        assert_eq!(f.iter().map(|f| f.code).collect::<Vec<_>>(), ["node-hostname-unresolved"]);
        let f = judge_probe("n", &targets, &parse_probe_output("tcp 10.1.0.1 7000 ok\n"), true);
        assert_eq!(
            f.iter().map(|f| (f.code, f.severity)).collect::<Vec<_>>(),
            [("node-hostname-unchecked", Severity::Warning)]
        );
    }

    fn node(name: &str, ready: bool, pool: Option<&str>) -> NodeFacts {
        NodeFacts {
            name: name.into(),
            internal_ips: vec![],
            pod_cidrs: vec![],
            ready,
            unschedulable: false,
            labels: pool.map(|p| [("pool".to_owned(), p.to_owned())].into()).unwrap_or_default(),
        }
    }

    #[test]
    fn the_probe_node_carries_cassandra_s_label_else_any_ready_node() {
        let nodes = [node("c", true, Some("data")), node("a", true, Some("runtime")), node("b", false, Some("data"))];
        assert_eq!(choose_probe_node(&nodes, Some(("pool", "data"))), Some(("c".into(), true)));
        assert_eq!(choose_probe_node(&nodes, None), Some(("a".into(), true)));
        assert_eq!(choose_probe_node(&nodes, Some(("pool", "gpu"))), Some(("a".into(), false)));
        assert_eq!(choose_probe_node(&[node("b", false, None)], None), None);
    }

    #[test]
    fn the_command_passes_the_targets_as_arguments_never_inside_the_script() {
        let argv = probe_command(&[target("10.1.0.1", 7001), target("fd00::1", 7001)], 3);
        assert_eq!(&argv[..2], ["sh", "-c"]);
        assert_eq!(&argv[3..], ["probe", "3", "10.1.0.1", "7001", "fd00::1", "7001"]);
        assert!(!argv[2].contains("10.1.0.1"));
    }

    /// The script itself, run by the local `sh`: a closed port fails, a listening one passes,
    /// and the hostname line is there.
    #[test]
    fn the_script_runs_in_a_posix_shell() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap().port();
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let argv = probe_command(&[target("127.0.0.1", open), target("127.0.0.1", closed)], 2);
        let Ok(out) = std::process::Command::new(&argv[0]).args(&argv[1..]).output() else { return };
        let text = String::from_utf8_lossy(&out.stdout);
        let checks = parse_probe_output(&text);
        assert!(matches!(&checks[0], ProbeCheck::Tcp { port, result: Ok(()), .. } if *port == open), "{text}");
        assert!(matches!(&checks[1], ProbeCheck::Tcp { port, result: Err(_), .. } if *port == closed), "{text}");
        assert!(matches!(checks.last(), Some(ProbeCheck::Dns { .. })), "{text}");
    }
}
