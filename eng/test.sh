#!/usr/bin/env bash
# Quick start, command 2: install what is missing, build, and run every test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/eng/setup.sh"
cd "$root"
results="$root/artifacts/test-results"
rm -rf "$results"; mkdir -p "$results"
status=0
dotnet test Entrupy.Grains.sln -c Release --no-build -nologo \
  --logger "console;verbosity=normal" --logger "trx;LogFilePrefix=results" --results-directory "$results" \
  || status=$?
test_projects=$(grep -l '<IsTestProject>true</IsTestProject>' tests/*/*.csproj | wc -l)
/usr/bin/python3 "$root/eng/test-summary.py" "$results" "$test_projects" || status=1
exit $status
