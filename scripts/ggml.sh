#!/usr/bin/env bash
# Fetches the pinned ggml source tree and builds and installs its CPU backend,
# for the ggml adapter (-DWM_GGML=ON, adapters/ggml/). Debian has no ggml
# package; the source distribution of llama-cpp-python on the Python package
# registry vendors one (vendor/llama.cpp/ggml), so that is where it comes
# from: downloaded by pip (the registry these machines reach), its sha256
# checked, only the ggml folder extracted. Quick when already done.
#
#   scripts/ggml.sh [DIR]   (default: build-ggml in the repository root)
#
# DIR/src is the source tree (its src/ggml-backend-impl.h is what the
# adapter's tests build a non-host buffer type with), DIR/install the
# installed ggml (find_package(ggml) finds it with
# -DCMAKE_PREFIX_PATH=DIR/install). Prints DIR/install on its last line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/build-ggml}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# The pin: one place. ggml 0.25.3 as vendored by llama-cpp-python 0.3.36.
sdist_name=llama-cpp-python
sdist_version=0.3.36
sdist_sha256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
ggml_version=0.25.3
stamp="$dir/install/.weightmap-ggml-$sdist_name-$sdist_version"

if [[ -f $stamp ]]; then
  echo "ggml $ggml_version (from $sdist_name $sdist_version): already built in $dir" >&2
  echo "$dir/install"
  exit 0
fi

python=$("$root/scripts/python-env.sh" | tail -1)
archive="$dir/${sdist_name//-/_}-$sdist_version.tar.gz"
if [[ ! -f $archive ]] || ! echo "$sdist_sha256  $archive" | sha256sum -c --status; then
  echo "ggml: downloading the $sdist_name $sdist_version source distribution" >&2
  rm -f "$archive"
  # --no-binary for it alone, and no build isolation: pip prepares the
  # sdist's metadata with the venv's scikit-build-core (pinned) instead of
  # building the build tools themselves from source (minutes).
  "$python" -m pip download --disable-pip-version-check -q --no-deps --no-binary "$sdist_name" \
    --no-build-isolation -d "$dir" "$sdist_name==$sdist_version" >&2
fi
echo "$sdist_sha256  $archive" | sha256sum -c --status || {
  echo "ggml: $archive does not have the pinned sha256 $sdist_sha256" >&2; exit 1; }

top="${sdist_name//-/_}-$sdist_version"
rm -rf "$dir/src" "$dir/extract"
mkdir -p "$dir/extract"
tar -xzf "$archive" -C "$dir/extract" "$top/vendor/llama.cpp/ggml"
mv "$dir/extract/$top/vendor/llama.cpp/ggml" "$dir/src"
rm -rf "$dir/extract"
found=$(sed -n 's/^set(GGML_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\))$/\2/p' "$dir/src/CMakeLists.txt" | paste -sd.)
[[ $found == "$ggml_version" ]] || { echo "ggml: expected version $ggml_version, the source says '$found'" >&2; exit 1; }
# The sdist leaves out ggml.pc.in, which ggml's CMakeLists.txt configures.
[[ -f $dir/src/ggml.pc.in ]] || printf 'Name: ggml\nDescription: ggml\nVersion: @GGML_VERSION@\n' > "$dir/src/ggml.pc.in"

# The CPU backend only, static, without -march=native (CI machines differ:
# ggml's default set instead, AVX2/FMA/F16C on x86-64), no OpenMP (ggml's
# own thread pool), no dynamic backend loading.
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$dir/src" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$dir/install" \
  -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=OFF \
  -DGGML_CPU=ON -DGGML_OPENMP=OFF -DGGML_BUILD_TESTS=OFF -DGGML_BUILD_EXAMPLES=OFF -DGGML_CCACHE=OFF \
  "${launcher[@]}" >/dev/null
cmake --build "$dir/build" -j"${WM_JOBS:-2}" >/dev/null
cmake --install "$dir/build" >/dev/null
touch "$stamp"
echo "ggml $ggml_version (from $sdist_name $sdist_version, sha256 checked): built and installed in $dir/install" >&2
echo "$dir/install"
