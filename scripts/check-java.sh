#!/usr/bin/env bash
# Stop early, with a message naming what to install, when no Java 17+ is available for Spark.
set -euo pipefail
java_bin=""
if [[ -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/java" ]]; then
  java_bin="${JAVA_HOME}/bin/java"
elif command -v java >/dev/null 2>&1; then
  java_bin="$(command -v java)"
fi
hint="Install a JDK 17 or 21: 'pixi install' brings openjdk from conda-forge; on Debian/Ubuntu 'apt-get install openjdk-17-jre-headless'; on macOS 'brew install openjdk@17'. Then put it on PATH or set JAVA_HOME."
if [[ -z "$java_bin" ]]; then
  echo "error: Spark needs Java 17 or newer, and no 'java' was found (JAVA_HOME unset and none on PATH)." >&2
  echo "$hint" >&2
  exit 1
fi
version_line="$("$java_bin" -version 2>&1 | head -n 1)"
version="$(sed -E 's/.*version "([^"]+)".*/\1/' <<<"$version_line")"
major="${version%%.*}"
[[ "$major" == "1" ]] && major="$(cut -d. -f2 <<<"$version")"
if ! [[ "$major" =~ ^[0-9]+$ ]] || (( major < 17 )); then
  echo "error: Spark needs Java 17 or newer; $java_bin reports: $version_line" >&2
  echo "$hint" >&2
  exit 1
fi
