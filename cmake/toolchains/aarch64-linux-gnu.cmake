# Linux arm64 from Debian's cross compiler and multiarch packages
# (scripts/install-deps.sh): g++-aarch64-linux-gnu, the :arm64 -dev
# packages in /usr/lib/aarch64-linux-gnu, qemu-user to run what is built.
#   cmake -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
# ctest then runs every test program under qemu-aarch64 (scripts/test-arm64.sh).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Multiarch: arm64 libraries and CMake packages live beside the host's, in
# /usr/lib/aarch64-linux-gnu; the arm64 C library in /usr/aarch64-linux-gnu.
# Searching / too finds them (and the architecture-independent headers and
# packages such as CLI11) while CMAKE_LIBRARY_ARCHITECTURE keeps the host's
# /usr/lib/x86_64-linux-gnu out of every search. libsimdjson-dev cannot be
# installed for two architectures at once (installing :arm64 removes the
# host's), so install-deps.sh unpacks the arm64 one into WM_ARM64_OVERLAY.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(WM_ARM64_OVERLAY /opt/weightmap-arm64 CACHE PATH "arm64 -dev packages unpacked beside the host's")
set(CMAKE_FIND_ROOT_PATH ${WM_ARM64_OVERLAY} /usr/aarch64-linux-gnu /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)  # build tools are the host's
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# add_test, gtest_discover_tests and try_run prefix every arm64 program with
# this. The dynamic loader and the C library must come from one package:
# the multiarch libc6:arm64 (/lib/ld-linux-aarch64.so.1, pulled in by the
# :arm64 -dev packages) when it is there. `-L /usr/aarch64-linux-gnu` would
# pair the cross package's loader with libc6:arm64's libc.so.6 (qemu falls
# back to / for what the prefix lacks), and when their versions differ every
# pthread_create hangs.
find_program(WM_QEMU_AARCH64 qemu-aarch64 REQUIRED)
if(EXISTS /lib/ld-linux-aarch64.so.1)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${WM_QEMU_AARCH64} -L /)
else()
  set(CMAKE_CROSSCOMPILING_EMULATOR ${WM_QEMU_AARCH64} -L /usr/aarch64-linux-gnu)
endif()
