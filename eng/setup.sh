#!/usr/bin/env bash
# Installs what is missing on a Debian 12 machine (apt and npm), then builds everything.
# Idempotent: quick when everything is already there. Run as root (or with sudo).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { echo "setup: $*" >&2; }
fail() { echo "setup: FAILED: $*" >&2; exit 1; }

command -v dotnet >/dev/null || fail "the .NET 10 SDK is required (https://dot.net); it is not on PATH."

# Debian packages: native engines, toolchain, model-building Python, the FAISS peer for benchmarks.
apt_packages=(
  build-essential cmake pkg-config
  libfaiss-dev libopenblas-dev liblapack-dev
  libturbojpeg0-dev libspng-dev libdeflate-dev libstb-dev
  python3-onnx python3-numpy python3-faiss python3-jsonschema
  nodejs npm sqlite3
)
# bench/run also generates capture datasets (models/fingerprint/make_dataset.py); tests and the silo do not need these.
if [[ "${ENTRUPY_BENCH_SETUP:-}" == "1" ]]; then apt_packages+=(python3-scipy python3-pil python3-skimage); fi
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs/npm may come from elsewhere (nodesource, nvm): accept any working npm.
if command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if (( ${#missing[@]} )); then
  [[ $(id -u) -eq 0 ]] || fail "missing Debian packages (${missing[*]}): run this script as root or with sudo."
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || fail "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed"
fi

"$root/eng/native.sh" || fail "native build failed (see above)"
"$root/azurite/install.sh" || fail "Azurite install failed (see above): the Azure provider tests and local Azure runs need it"
say "building the solution"
dotnet build "$root/Entrupy.Grains.sln" -c Release -nologo -v quiet -clp:ErrorsOnly \
  || fail "dotnet build failed (see above)"
say "ready"
