#!/usr/bin/env bash
# Builds the native side: fetches the pinned ONNX Runtime library and builds our C++ shim (FAISS + image decoding).
# Output: .native/lib/{libentrupy_native.so,libonnxruntime.so.1}. Idempotent and quick when nothing changed.
# Called by setup.sh and by the build of src/Entrupy.Native, so a plain `dotnet build` works too.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/.native"
lib="$out/lib"
mkdir -p "$lib" "$out/cache"

fail() { echo "native: $*" >&2; exit 1; }

# --- ONNX Runtime: npm tarball, sha256-verified, only the .so is kept ---
# shellcheck disable=SC1091
source "$root/eng/onnxruntime.lock"
stamp="$lib/.onnxruntime-$ORT_VERSION-$ORT_TARBALL_SHA256"
if [[ ! -f "$stamp" || ! -f "$lib/libonnxruntime.so.1" ]]; then
  command -v npm >/dev/null || fail "npm is missing: run eng/setup.sh (it installs Node.js and npm)."
  tarball="$out/cache/$ORT_PACKAGE-$ORT_VERSION.tgz"
  if [[ ! -f "$tarball" ]] || ! echo "$ORT_TARBALL_SHA256  $tarball" | sha256sum -c --status; then
    echo "native: fetching $ORT_PACKAGE@$ORT_VERSION from the npm registry" >&2
    rm -f "$tarball"
    (cd "$out/cache" && npm pack --silent "$ORT_PACKAGE@$ORT_VERSION" >/dev/null 2>"$out/cache/npm-pack.log") \
      || fail "npm pack $ORT_PACKAGE@$ORT_VERSION failed (see $out/cache/npm-pack.log): is the npm registry reachable?"
  fi
  echo "$ORT_TARBALL_SHA256  $tarball" | sha256sum -c --status \
    || { rm -f "$tarball"; fail "sha256 of $tarball does not match eng/onnxruntime.lock: refusing to use it."; }
  tmp="$(mktemp -d)"
  tar -xzf "$tarball" -C "$tmp" -m "$ORT_LIBRARY_PATH" || fail "$ORT_LIBRARY_PATH is not in the tarball"
  echo "$ORT_LIBRARY_SHA256  $tmp/$ORT_LIBRARY_PATH" | sha256sum -c --status \
    || fail "sha256 of the extracted libonnxruntime.so.1 does not match eng/onnxruntime.lock"
  install -m 0755 "$tmp/$ORT_LIBRARY_PATH" "$lib/libonnxruntime.so.1"
  rm -rf "$tmp"
  rm -f "$lib"/.onnxruntime-*
  touch "$stamp"
fi

# --- Our shim: CMake + g++ over Debian's libfaiss.a, libturbojpeg, libspng, libdeflate, stb ---
src="$root/src/Entrupy.Native/native"
[[ -f /usr/lib/x86_64-linux-gnu/libfaiss.a ]] || fail "libfaiss-dev is missing: run eng/setup.sh (apt-get install libfaiss-dev)."
command -v cmake >/dev/null || fail "cmake is missing: run eng/setup.sh."
build="$out/build"
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$out" >"$out/cmake-configure.log" 2>&1 \
    || { cat "$out/cmake-configure.log" >&2; fail "cmake configure failed"; }
fi
cmake --build "$build" -j "$(nproc)" >"$out/cmake-build.log" 2>&1 \
  || { cat "$out/cmake-build.log" >&2; fail "native shim build failed"; }
cmake --install "$build" >/dev/null 2>&1 || fail "cmake install failed"
