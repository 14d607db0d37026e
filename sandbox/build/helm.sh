#!/usr/bin/env bash
# Builds the real Helm CLI from its Go module (helm.sh/helm/v3 installs with `go install` since
# v3.7) into the cache; the version is set with -ldflags so `helm version` reports it.
. "$(dirname "$0")/common.sh"
OUT=$SANDBOX_CACHE/helm-$HELM_VERSION
if is_complete "$OUT"; then log "helm $HELM_VERSION: cached"; exit 0; fi
log "helm $HELM_VERSION: building (~3 min cold on 2 cores)"
mkdir -p "$OUT"
GOBIN=$OUT go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
"$OUT/helm" version >&2
"$OUT/helm" version --template '{{.Version}}' | grep -qx "$HELM_VERSION"
touch "$OUT/.complete"
