#!/usr/bin/env bash
# Fetches cassandra-all and its runtime dependencies from Maven Central into the cache.
. "$(dirname "$0")/common.sh"
OUT=$SANDBOX_CACHE/cassandra-$CASSANDRA_VERSION
if is_complete "$OUT"; then log "cassandra $CASSANDRA_VERSION: cached"; exit 0; fi
log "cassandra $CASSANDRA_VERSION: resolving jars"
mkdir -p "$OUT/lib"
mvn -B -q -f "$(dirname "$0")/cassandra/pom.xml" -Dcassandra.version="$CASSANDRA_VERSION" \
  org.apache.maven.plugins:maven-dependency-plugin:3.11.0:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$OUT/lib"
ls "$OUT/lib" | grep -q "cassandra-all-$CASSANDRA_VERSION.jar"
touch "$OUT/.complete"
