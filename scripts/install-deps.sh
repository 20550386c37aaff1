#!/usr/bin/env bash
# The one list of Debian 12 packages weightmap needs to build, test, fuzz and
# benchmark. Idempotent: installs only what is missing. Run as root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config   # toolchain
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
)

# Windows x86-64: cross build with mingw-w64, tests under wine
# (scripts/test-windows.sh). GoogleTest, simdjson, fmt, CLI11 and xxhash for
# mingw are built or used header-only by scripts/build-mingw-deps.sh from the
# Debian packages above and simdjson's Debian source package.
packages+=(
  mingw-w64 g++-mingw-w64-x86-64-posix   # the posix-thread g++ (std::thread)
  libz-mingw-w64-dev                     # zlib for mingw
  wine64                                 # runs the test programs
  googletest dpkg-dev                    # GoogleTest's source; dpkg-source unpacks simdjson's
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
