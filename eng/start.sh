#!/usr/bin/env bash
# Quick start, command 1: install what is missing, build, and start the silo (API + embedded store) on 127.0.0.1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/eng/setup.sh"
url="${ENTRUPY_URL:-http://127.0.0.1:5080}"
echo "start: silo on $url (health: $url/health); Ctrl+C stops it" >&2
cd "$root/silo/Entrupy.Silo"
# The embedded store lives in .data/ at the repository root unless Storage:* settings say otherwise.
exec dotnet "bin/Release/net10.0/Entrupy.Silo.dll" --urls "$url" --Storage:Sqlite:Path "$root/.data/entrupy.db" "$@"
