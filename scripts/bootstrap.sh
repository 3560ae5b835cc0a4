#!/usr/bin/env bash
# Installs what the build, the service and the tests need on a fresh Debian 12 machine that has the
# .NET SDK: PostgreSQL (for the tests that run against a real server) and the local dotnet tools.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "bootstrap: need root (or sudo) to run: $*" >&2; exit 1; fi
}

if [ "${EASEL_SKIP_POSTGRES_INSTALL:-0}" != "1" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "bootstrap: installing PostgreSQL from Debian packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi

dotnet tool restore >/dev/null
