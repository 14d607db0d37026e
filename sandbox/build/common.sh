# Shared settings for the sandbox build scripts. Sourced, not run.
# Everything built or downloaded lands in $SANDBOX_CACHE (outside git), keyed by version,
# and a component whose versioned folder is complete is never rebuilt.
set -euo pipefail
SANDBOX_CACHE=${SANDBOX_CACHE:-$HOME/.cache/apigee-multiregion-sandbox}
K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.14}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
CASSANDRA_VERSION=${CASSANDRA_VERSION:-5.0.9}
export CGO_ENABLED=0
export GOFLAGS=-mod=mod
mkdir -p "$SANDBOX_CACHE"
log() { printf '[sandbox-build] %s\n' "$*" >&2; }
# done_marker DIR: a build writes DIR/.complete last, so a half-finished build is redone.
is_complete() { [ -f "$1/.complete" ]; }
