#!/usr/bin/env bash
# Builds the kwok controller (stands in for kubelets; routes exec and logs to local processes)
# and keeps the stage definitions it needs next to the binary.
. "$(dirname "$0")/common.sh"
OUT=$SANDBOX_CACHE/kwok-$KWOK_VERSION
if is_complete "$OUT"; then log "kwok $KWOK_VERSION: cached"; exit 0; fi
log "kwok $KWOK_VERSION: building"
mkdir -p "$OUT/stages"
GOBIN=$OUT go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
MOD=$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION
for s in node/fast node/heartbeat-with-lease pod/fast; do
  for f in "$MOD/kustomize/stage/$s"/*.yaml; do
    case "$(basename "$f")" in kustomization.yaml) continue;; esac
    cp "$f" "$OUT/stages/$(echo "$s" | tr / -)-$(basename "$f")"
  done
done
chmod -R u+w "$OUT"
"$OUT/kwok" --version >&2 || true
touch "$OUT/.complete"
