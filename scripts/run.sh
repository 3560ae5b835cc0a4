#!/usr/bin/env bash
# Starts Easel with the embedded defaults: SQLite under ./data, an in-process worker, CPU, at
# http://localhost:5080 (Swagger UI at /swagger). Extra arguments go to the service, e.g. --urls.
set -euo pipefail
cd "$(dirname "$0")/.."
export Easel__DataDir="${Easel__DataDir:-$PWD/data}"
exec dotnet run --project src/Api -c Release -- "$@"
