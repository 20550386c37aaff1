#!/usr/bin/env bash
# Builds, for the Windows x86-64 cross build (mingw-w64), what Debian does not
# ship for mingw, into one prefix:
#   GoogleTest  from Debian's own source (/usr/src/googletest, package googletest)
#   simdjson    from Debian's source package (apt-get source --download-only)
#   fmt         from Debian's source package (a static library: header-only
#               fmt compiles its whole implementation into every file)
#   CLI11       header-only, Debian's libcli11-dev
#   xxhash      Debian's header compiled once (XXH_IMPLEMENTATION) into libxxhash.a
# zlib comes from Debian's libz-mingw-w64-dev. The prefix is kept: a second
# run with the same inputs does nothing (stamp file).
#
# Usage: scripts/build-mingw-deps.sh PREFIX   (e.g. build-windows/deps)
set -euo pipefail
prefix=$(realpath -m "${1:?usage: $0 PREFIX}")
root="$(cd "$(dirname "$0")/.." && pwd)"
toolchain="$root/cmake/toolchains/mingw-w64-x86_64.cmake"
host=x86_64-w64-mingw32
cc=$host-gcc-posix

# What the prefix was built from: a change rebuilds it.
inputs="$(dpkg-query -W -f='${Package}=${Version} ' googletest libfmt-dev libcli11-dev libxxhash-dev \
  g++-mingw-w64-x86-64-posix libsimdjson-dev) $(sha1sum "$0" "$toolchain" | awk '{print $1}' | tr '\n' ' ')"
stamp="$prefix/.built-from"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$inputs" ]; then
  echo "mingw deps: cached in $prefix"
  exit 0
fi
rm -rf "$prefix"
mkdir -p "$prefix/include" "$prefix/lib/cmake" "$prefix/src"
work="$prefix/src"
jobs="${WM_JOBS:-2}"

cross_cmake() {  # SOURCE BUILD [cmake args...]
  local src=$1 bld=$2
  shift 2
  cmake -S "$src" -B "$bld" -G "Unix Makefiles" -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DWM_MINGW_DEPS_PREFIX="$prefix" "$@" >/dev/null
  cmake --build "$bld" -j"$jobs" >/dev/null
  cmake --install "$bld" >/dev/null
}

echo "mingw deps: GoogleTest from /usr/src/googletest"
cross_cmake /usr/src/googletest "$work/gtest-build" -DBUILD_GMOCK=ON -Dgtest_disable_pthreads=OFF

# Debian's source package NAME at the version installed for the host
# (PACKAGE), unpacked with Debian's patches into $work/NAME; prints the folder.
debian_source() {
  local name=$1 package=$2 version
  version=$(dpkg-query -W -f='${source:Version}\n' "$package" | head -1)  # one line per installed architecture
  mkdir -p "$work/$name-src"
  (
    cd "$work/$name-src"
    if ! apt-get source --download-only "$name=$version" >/dev/null 2>&1; then
      # No deb-src entry yet: add one beside Debian's own (same archive, same
      # key) in a file of its own, so the binary entries others use stay as
      # they are.
      sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
        >/etc/apt/sources.list.d/debian-src-weightmap.sources
      apt-get update -qq >/dev/null
      apt-get source --download-only "$name=$version" >/dev/null
    fi
    # apt-get checked the files against the signed archive index; the .dsc
    # signer's key is not in the keyring here, so dpkg-source need not check again.
    dpkg-source --no-check -x "${name}"_*.dsc "$name" >/dev/null
  )
  echo "$work/$name-src/$name"
}

echo "mingw deps: simdjson from Debian's source package"
cross_cmake "$(debian_source simdjson libsimdjson-dev)" "$work/simdjson-build" -DSIMDJSON_DEVELOPER_MODE=OFF \
  -DBUILD_SHARED_LIBS=OFF -DSIMDJSON_ENABLE_THREADS=ON

echo "mingw deps: fmt from Debian's source package"
cross_cmake "$(debian_source fmtlib libfmt-dev)" "$work/fmt-build" -DFMT_DOC=OFF -DFMT_TEST=OFF \
  -DBUILD_SHARED_LIBS=OFF

echo "mingw deps: CLI11, xxhash headers"
cp -r /usr/include/CLI "$prefix/include/"
cp /usr/include/xxhash.h /usr/include/xxh3.h "$prefix/include/" 2>/dev/null || cp /usr/include/xxhash.h "$prefix/include/"
mkdir -p "$prefix/lib/cmake/CLI11"
cat >"$prefix/lib/cmake/CLI11/CLI11Config.cmake" <<'EOF'
# CLI11 is header-only.
if(NOT TARGET CLI11::CLI11)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  set_target_properties(CLI11::CLI11 PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${CMAKE_CURRENT_LIST_DIR}/../../../include")
endif()
EOF
# xxhash: the header is the implementation; one object file makes the library
# the build links by name (as on Linux).
printf '#define XXH_STATIC_LINKING_ONLY\n#define XXH_IMPLEMENTATION\n#include "xxhash.h"\n' >"$work/xxhash.c"
$cc -O2 -I"$prefix/include" -c "$work/xxhash.c" -o "$work/xxhash.o"
$host-ar rcs "$prefix/lib/libxxhash.a" "$work/xxhash.o"

rm -rf "$work"
echo "$inputs" >"$stamp"
echo "mingw deps: built in $prefix"
