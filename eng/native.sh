#!/usr/bin/env bash
# Builds the native side: our C++ shim (FAISS + image decoding). ONNX Runtime is not built or fetched here: it comes
# with the Microsoft.ML.OnnxRuntime NuGet package (Directory.Packages.props).
# Output: .native/lib/libentrupy_native.so. Idempotent and quick when nothing changed.
# Called by setup.sh and by the build of src/Entrupy.Native, so a plain `dotnet build` works too.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/.native"
lib="$out/lib"
mkdir -p "$lib"

fail() { echo "native: $*" >&2; exit 1; }

# Earlier versions of this script fetched ONNX Runtime from npm into here; nothing uses those files any more.
rm -rf "$lib/libonnxruntime.so.1" "$lib"/.onnxruntime-* "$out/cache"

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
