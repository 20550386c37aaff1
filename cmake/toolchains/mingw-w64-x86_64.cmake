# Cross build for Windows x86-64 with Debian's mingw-w64 (the posix-thread
# g++, which has std::thread), tests run under wine:
#   cmake -S . -B build-windows -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/mingw-w64-x86_64.cmake \
#         -DWM_MINGW_DEPS_PREFIX=build-windows/deps      (scripts/build-mingw-deps.sh fills it)
# scripts/test-windows.sh does all of it.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(WM_MINGW_HOST x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${WM_MINGW_HOST}-gcc-posix)
set(CMAKE_CXX_COMPILER ${WM_MINGW_HOST}-g++-posix)
set(CMAKE_RC_COMPILER ${WM_MINGW_HOST}-windres)

# Libraries and headers come from the mingw sysroot and the deps prefix only,
# never from the Linux system; programs (wine, cmake's own tools) from the host.
set(WM_MINGW_DEPS_PREFIX "" CACHE PATH "Prefix of the mingw builds of GoogleTest, simdjson, fmt, CLI11, xxhash")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES WM_MINGW_DEPS_PREFIX)
set(CMAKE_FIND_ROOT_PATH /usr/${WM_MINGW_HOST})
if(WM_MINGW_DEPS_PREFIX)
  get_filename_component(WM_MINGW_DEPS_PREFIX_ABS "${WM_MINGW_DEPS_PREFIX}" ABSOLUTE)
  list(APPEND CMAKE_FIND_ROOT_PATH "${WM_MINGW_DEPS_PREFIX_ABS}")
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# The GCC runtime, libstdc++ and winpthread linked statically, so a program
# (and the test DLL) runs under wine or on Windows with no mingw DLLs beside it.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")

# Test programs run under wine (gtest_discover_tests, ctest); its debug
# channels off, so test output is the program's own.
find_program(WM_WINE NAMES wine64 wine)
if(WM_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_COMMAND} -E env WINEDEBUG=-all ${WM_WINE})
endif()

# zlib from libz-mingw-w64-dev: the static archive, not the DLL's import library.
set(ZLIB_USE_STATIC_LIBS ON)
