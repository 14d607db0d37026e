"""Where things are and which ports they use. One place, so nothing else hard-codes a number."""
import os
from pathlib import Path

SANDBOX_DIR = Path(__file__).resolve().parents[2]
REPO_DIR = SANDBOX_DIR.parent
CACHE = Path(os.environ.get("SANDBOX_CACHE", Path.home() / ".cache" / "apigee-multiregion-sandbox"))
STATE = Path(os.environ.get("SANDBOX_STATE", "/tmp/apigee-multiregion-sandbox"))

K8S_VERSION = os.environ.get("K8S_VERSION", "v1.36.3")
ETCD_VERSION = os.environ.get("ETCD_VERSION", "v3.6.14")
KWOK_VERSION = os.environ.get("KWOK_VERSION", "v0.8.0")
CASSANDRA_VERSION = os.environ.get("CASSANDRA_VERSION", "5.0.9")

KUBE_APISERVER = CACHE / f"k8s-{K8S_VERSION}" / "kube-apiserver"
ETCD = CACHE / f"etcd-{ETCD_VERSION}" / "etcd"
KWOK = CACHE / f"kwok-{KWOK_VERSION}" / "kwok"
KWOK_STAGES = CACHE / f"kwok-{KWOK_VERSION}" / "stages"
CASSANDRA_LIB = CACHE / f"cassandra-{CASSANDRA_VERSION}" / "lib"
JAVA = Path(os.environ.get("SANDBOX_JAVA", "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"))
KEYTOOL = JAVA.parent / "keytool"
KUBECTL = os.environ.get("SANDBOX_KUBECTL", "kubectl")

REGIONS = (1, 2)
# Pods per region the kwok exec/log routes are prepared for (the topology may use fewer).
MAX_NODES = 3
NAMESPACE = "apigee"
STS_NAME = "apigee-cassandra-default"
CASSANDRA_LABEL = "app=apigee-cassandra"
CONTAINER = "apigee-cassandra"


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
