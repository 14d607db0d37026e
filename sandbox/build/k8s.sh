#!/usr/bin/env bash
# Builds kube-apiserver from k8s.io/kubernetes. Its go.mod replaces every staging module with a
# local path, which a consumer ignores, so this module replaces them with the published v0.x tags.
. "$(dirname "$0")/common.sh"
OUT=$SANDBOX_CACHE/k8s-$K8S_VERSION
if is_complete "$OUT"; then log "kube-apiserver $K8S_VERSION: cached"; exit 0; fi
log "kube-apiserver $K8S_VERSION: building (the slow one: ~15-25 min cold on 2 cores)"
STAGING=v0.${K8S_VERSION#v1.}
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT; cd "$W"
printf 'module local.test/k8sbin\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n' "$K8S_VERSION" > go.mod
GOMOD=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["GoMod"])')
need=$(awk '$1=="go"{print $2; exit}' "$GOMOD")
log "k8s.io/kubernetes $K8S_VERSION wants go $need"
awk -v v="$STAGING" '$2=="=>" && $3 ~ /^\.\/staging\/src\// {print "replace " $1 " => " $1 " " v}' "$GOMOD" >> go.mod
printf '\ntool k8s.io/kubernetes/cmd/kube-apiserver\n' >> go.mod
go mod tidy
MINOR=$(echo "$K8S_VERSION" | cut -d. -f2)
V=k8s.io/component-base/version; C=k8s.io/client-go/pkg/version
LDF="-s -w -X $V.gitVersion=$K8S_VERSION -X $V.gitMajor=1 -X $V.gitMinor=$MINOR -X $V.gitTreeState=clean -X $C.gitVersion=$K8S_VERSION -X $C.gitMajor=1 -X $C.gitMinor=$MINOR"
mkdir -p "$OUT"
go build -trimpath -ldflags "$LDF" -o "$OUT/" k8s.io/kubernetes/cmd/kube-apiserver
"$OUT/kube-apiserver" --version >&2
touch "$OUT/.complete"
