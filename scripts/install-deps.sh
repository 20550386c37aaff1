#!/usr/bin/env bash
# The one list of Debian 12 packages weightmap needs to build, test, fuzz and
# benchmark. Idempotent: installs only what is missing. Run as root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config   # toolchain
  ccache                             # scripts/test.sh: the library compiled once for the release, consumer and wheel builds
  clang libclang-rt-14-dev           # libFuzzer targets and sanitizer runtimes
  libsimdjson-dev                    # safetensors headers and index files
  libcli11-dev                       # command line
  libfmt-dev                         # formatting
  libxxhash-dev                      # checksums
  liburing-dev                       # io_uring reads, O_DIRECT bandwidth probe
  zlib1g-dev                         # deflated entries of PyTorch zip checkpoints
  gnuplot-nox                        # weightmap bench --plot
  libgtest-dev libgmock-dev          # tests
  libbenchmark-dev                   # benchmarks
  python3-dev python3-venv           # the Python package (scripts/python-env.sh makes its venv)
  openmpi-bin libopenmpi-dev         # tests/mpi (label mpi): --shard auto in every rank of mpirun
  iproute2                           # scripts/netns-hosts.sh: one MPI "host" per network namespace
)

# --- Linux arm64 (scripts/test-arm64.sh) ---------------------------------
# Debian's cross compiler and multiarch :arm64 libraries; qemu-user runs the
# arm64 tests (cmake/toolchains/aarch64-linux-gnu.cmake). libsimdjson-dev is
# not co-installable for two architectures (installing :arm64 removes the
# host's), so only its shared library is installed for arm64 and the -dev
# package is unpacked into $arm64_overlay, where the toolchain file looks.
packages+=(
  g++-aarch64-linux-gnu qemu-user libc6:arm64
  libfmt-dev:arm64 libgtest-dev:arm64 liburing-dev:arm64 zlib1g-dev:arm64 libxxhash-dev:arm64 libsimdjson14:arm64
)
arm64_overlay=/opt/weightmap-arm64
arm64_unpacked=(libsimdjson-dev:arm64 libsimdjson14:arm64)
arm64_overlay_ready() { [ -f "$arm64_overlay/usr/lib/aarch64-linux-gnu/cmake/simdjson/simdjson-config.cmake" ]; }

# Windows x86-64: cross build with mingw-w64, tests under wine
# (scripts/test-windows.sh). GoogleTest, simdjson, fmt, CLI11 and xxhash for
# mingw are built or used header-only by scripts/build-mingw-deps.sh from the
# Debian packages above and simdjson's Debian source package.
packages+=(
  mingw-w64 g++-mingw-w64-x86-64-posix   # the posix-thread g++ (std::thread)
  libz-mingw-w64-dev                     # zlib for mingw
  wine64 wine                            # runs the test programs (wine: the wine, wineboot, wineserver commands)
  googletest dpkg-dev                    # GoogleTest's source; dpkg-source unpacks simdjson's
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ] && arm64_overlay_ready; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! arm64_overlay_ready; then
  echo "unpacking into $arm64_overlay: ${arm64_unpacked[*]}"
  debs=$(mktemp -d)
  chmod 755 "$debs"  # apt-get download runs as _apt
  (cd "$debs" && apt-get download -qq "${arm64_unpacked[@]}")
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$arm64_overlay"; done
  rm -rf "$debs"
fi
