#!/usr/bin/env bash
# Fetch the jars local Spark needs for S3 (scripts/spark-jars/pom.xml) into .cache/spark-jars/.
# Run by `make` and pixi before Spark is used; does nothing when the jars are there already.
# Libraries pyspark ships itself (netty, httpclient, commons-*, slf4j) are left out: two versions
# of one library on Spark's classpath is a conflict waiting to happen.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.cache/spark-jars
stamp="$out/.pom.sha256"
want=$(sha256sum scripts/spark-jars/pom.xml | cut -d' ' -f1)
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
if ! command -v mvn >/dev/null; then
  echo "error: Maven (mvn) is needed once to fetch Spark's S3 jars into $out" >&2
  echo "       (apt-get install maven, brew install maven; pixi brings it)" >&2
  exit 1
fi
echo "fetching Spark's S3 jars (hadoop-aws, AWS SDK) into $out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mvn -q -B -f scripts/spark-jars/pom.xml dependency:copy-dependencies \
  -DoutputDirectory="$tmp" -DincludeScope=runtime \
  -DexcludeGroupIds=io.netty,org.apache.httpcomponents,commons-codec,commons-logging,org.slf4j
rm -rf "$out"
mkdir -p "$out"
mv "$tmp"/*.jar "$out"/
echo "$want" >"$stamp"
