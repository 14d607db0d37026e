#!/usr/bin/env bash
# Builds etcd from its published Go module into the cache (server/v3 has replace directives,
# so it is built as a dependency of a throwaway module instead of `go install`).
. "$(dirname "$0")/common.sh"
OUT=$SANDBOX_CACHE/etcd-$ETCD_VERSION
if is_complete "$OUT"; then log "etcd $ETCD_VERSION: cached"; exit 0; fi
log "etcd $ETCD_VERSION: building"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT; cd "$W"
printf 'module local.test/etcdbin\n\ngo 1.26\n\nrequire go.etcd.io/etcd/server/v3 %s\n\ntool go.etcd.io/etcd/server/v3\n' "$ETCD_VERSION" > go.mod
go mod tidy
mkdir -p "$OUT"
go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3
"$OUT/etcd" --version >&2
touch "$OUT/.complete"
