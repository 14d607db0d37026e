"""Region-1, the existing region: installed through the apigeectl stand-in (from its hybrid-files
directory, `regions/region-1/`) or, with SANDBOX_INSTALLER=helm, with the real Helm and the stand-in
charts, and loaded with data."""
import sys

from . import apigeectl, data, env, hybrid_files

HYBRID_FILES = env.SANDBOX_DIR / "regions" / "region-1"
TEMPLATE = HYBRID_FILES / "overrides.yaml"


def overrides_path():
    """The committed overrides (2 nodes), or with SANDBOX_NODES another replicaCount, a copy in the state folder."""
    if env.NODES == 2:
        return TEMPLATE
    generated = env.region_dir(1) / "overrides.yaml"
    text = TEMPLATE.read_text().replace("  replicaCount: 2\n", f"  replicaCount: {env.NODES}\n")
    if not generated.exists() or generated.read_text() != text:
        generated.parent.mkdir(parents=True, exist_ok=True)
        generated.write_text(text)
    return generated


OVERRIDES = TEMPLATE  # kept for callers that read the committed file; use overrides_path() for the installed one


def settings() -> dict:
    return apigeectl.cassandra_settings(apigeectl.read_overrides(str(overrides_path())))


def org() -> str:
    return str(apigeectl.read_overrides(str(overrides_path())).get("org", "sandbox-org"))


def install_and_load() -> None:
    path = overrides_path()
    hybrid_files.populate(HYBRID_FILES, path)
    doc = apigeectl.read_overrides(str(path))
    apigeectl.check_files(doc, HYBRID_FILES)
    if env.INSTALLER == "helm":
        from . import helm
        helm.install_all(1, str(path), doc)
    else:
        apigeectl.init(1, doc)
        apigeectl.apply(1, doc)
    # Readiness judged from the cluster (Helm's --wait returned before Cassandra was ready): the
    # operator, the datastore running at its generation, every pod Ready, the organization running.
    apigeectl.wait_ready(1, doc)
    s = apigeectl.cassandra_settings(doc)
    n = data.load(env.node_ip(1, 0), s["datacenter"], min(3, s["replicas"]), org())
    print(f"region-1: {s['replicas']} Cassandra {env.CASSANDRA_VERSION} nodes in {s['datacenter']}, {n} rows loaded", file=sys.stderr)
