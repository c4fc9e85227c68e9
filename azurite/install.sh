#!/usr/bin/env bash
# Installs the pinned Azurite (package-lock.json) into azurite/node_modules with `npm ci`.
# Idempotent: returns at once when the installed tree matches the lock file. First run: ~30-60 s, ~365 MB.
# Azurite 3.37 asks for Node >= 22 (npm prints EBADENGINE warnings) but runs on Node 20, which Debian 12 ships.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fail() { echo "azurite/install: $*" >&2; exit 1; }
command -v node >/dev/null || fail "node is missing: run eng/setup.sh (it installs Node.js and npm)."
command -v npm >/dev/null || fail "npm is missing: run eng/setup.sh (it installs Node.js and npm)."

# The stamp holds the lock file's hash, so a changed pin reinstalls and an unchanged one is a no-op.
lock_hash="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
stamp="$here/node_modules/.entrupy-installed"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$lock_hash" && -f "$here/node_modules/azurite/dist/src/azurite.js" ]]; then
  exit 0
fi
echo "azurite/install: npm ci (Azurite $(node -p "require('$here/package.json').dependencies.azurite"))" >&2
log="$(mktemp)"
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error >"$log" 2>&1) \
  || { cat "$log" >&2; rm -f "$log"; fail "npm ci failed (log above): is the npm registry reachable?"; }
rm -f "$log"
echo "$lock_hash" >"$stamp"
