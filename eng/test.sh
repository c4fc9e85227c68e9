#!/usr/bin/env bash
# Quick start, command 2: install what is missing, build, and run every test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/eng/setup.sh"
cd "$root"
results="$root/artifacts/test-results"
rm -rf "$results"; mkdir -p "$results"
dotnet test Entrupy.Grains.sln -c Release --no-build -nologo \
  --logger "console;verbosity=normal" --logger "trx" --results-directory "$results" \
  -- RunConfiguration.TestSessionTimeout=1500000
