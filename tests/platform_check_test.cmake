# cmake/CheckPlatform.cmake refuses OS headers and OS tests outside src/io,
# lists each offender with its line, and lets src/io and the allowed
# export macros be. Run by CTest:
#   cmake -DWM_SOURCE_DIR=<root> -DWM_WORK_DIR=<scratch> -P platform_check_test.cmake
cmake_policy(VERSION 3.25)
set(check "${WM_SOURCE_DIR}/cmake/CheckPlatform.cmake")

function(run_check tree out_rc out_text)
  execute_process(COMMAND "${CMAKE_COMMAND}" -DWM_SOURCE_DIR=${tree} -P "${check}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(${out_rc} "${rc}" PARENT_SCOPE)
  set(${out_text} "${out}${err}" PARENT_SCOPE)
endfunction()

function(expect_contains text what)
  string(FIND "${text}" "${what}" at)
  if(at LESS 0)
    message(FATAL_ERROR "expected the check to report:\n  ${what}\nit said:\n${text}")
  endif()
endfunction()

# 1. The real tree passes.
run_check("${WM_SOURCE_DIR}" rc text)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the source tree fails its own platform check:\n${text}")
endif()

# 2. A tree with offenders fails, naming each one and nothing in src/io.
set(t "${WM_WORK_DIR}/bad")
file(REMOVE_RECURSE "${t}")
file(WRITE "${t}/src/load/pin.cc" "// pins\n#include <cstring>\n#include <sys/mman.h>\nint x;\n")
file(WRITE "${t}/src/compute/kernel.h" "#pragma once\n#include <immintrin.h>\n#if defined(__x86_64__) && defined(_WIN32)\n#endif\n")
file(WRITE "${t}/src/cli/run.cc" "#include <fmt/format.h>\n\n#  include <Windows.h>\n#ifdef __APPLE__ // mac\n#endif\n")
file(WRITE "${t}/include/weightmap/api.hpp" "#pragma once\n#ifndef __linux__\n#endif\n")
file(WRITE "${t}/include/weightmap/export.hpp" "#pragma once\n#if defined(_WIN32)\n#endif\n")
file(WRITE "${t}/src/io/posix/file.cc" "#include <unistd.h>\n#if defined(__linux__)\n#endif\n")
file(WRITE "${t}/src/io/memory.h" "#pragma once\n#include <sys/types.h>\n")
run_check("${t}" rc text)
if(rc EQUAL 0)
  message(FATAL_ERROR "the check passed a tree with OS headers outside src/io:\n${text}")
endif()
expect_contains("${text}" "5 OS dependency(ies) outside src/io")
expect_contains("${text}" "src/load/pin.cc:3: #include <sys/mman.h>: an OS header outside src/io")
expect_contains("${text}" "src/compute/kernel.h:3: #if defined(__x86_64__) && defined(_WIN32): a test of the OS (_WIN32)")
expect_contains("${text}" "src/cli/run.cc:3: #  include <Windows.h>: an OS header")
expect_contains("${text}" "src/cli/run.cc:4: #ifdef __APPLE__ // mac: a test of the OS (__APPLE__)")
expect_contains("${text}" "include/weightmap/api.hpp:2: #ifndef __linux__: a test of the OS (__linux__)")
foreach(innocent "src/io/" "immintrin" "export.hpp")
  string(FIND "${text}" "${innocent}" at)
  if(NOT at LESS 0)
    message(FATAL_ERROR "the check reported something it must allow (${innocent}):\n${text}")
  endif()
endforeach()

# 3. Fixing the offenders makes it pass.
file(REMOVE "${t}/src/load/pin.cc" "${t}/src/compute/kernel.h" "${t}/src/cli/run.cc" "${t}/include/weightmap/api.hpp")
file(WRITE "${t}/include/weightmap/api.hpp" "#pragma once\n#include <cstdint>\n")
run_check("${t}" rc text)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the check failed a clean tree:\n${text}")
endif()
message(STATUS "platform check: refuses OS code outside src/io, allows src/io and the export macros")
