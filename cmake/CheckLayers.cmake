# The layer check: the build refuses an #include that goes up the layers or
# sideways, and a public header that includes anything but standard headers
# and other public headers.
#
#   src/<layer>/*.{h,hpp,cc,inc}  may include "<layer>/...", the layers
#                                 cmake/Layers.cmake lists for it, and
#                                 "weightmap/..." (the public headers);
#                                 src/cli/ may include anything.
#   include/weightmap/*           may include <standard headers> and
#                                 "weightmap/..." only: no src/, no
#                                 third-party header.
#
# Three ways to run it:
#   include(cmake/CheckLayers.cmake)   from the root CMakeLists.txt: checks the
#                                      source tree at configure time;
#   cmake -DWM_SOURCE_DIR=<root> [-DWM_STAMP=<file>] -P cmake/CheckLayers.cmake
#                                      the same, at build time (target
#                                      wm_layer_check, re-run when a source
#                                      file changes);
#   cmake -DWM_PUBLIC_HEADERS_DIR=<dir> -P cmake/CheckLayers.cmake
#                                      only the public-header rule, on an
#                                      installed include/weightmap.
# Every violation is listed (file:line, the include, the rule), then the
# check fails.

cmake_policy(VERSION 3.25)  # script mode (-P) has no project policies
include("${CMAKE_CURRENT_LIST_DIR}/Layers.cmake")

# C and C++ standard library headers (through C++23), the only <...>
# includes a public header may have.
set(WM_STANDARD_HEADERS
  algorithm any array atomic barrier bit bitset charconv chrono codecvt compare complex concepts
  condition_variable coroutine deque exception execution expected filesystem flat_map flat_set format
  forward_list fstream functional future generator initializer_list iomanip ios iosfwd iostream istream
  iterator latch limits list locale map mdspan memory memory_resource mutex new numbers numeric optional
  ostream print queue random ranges ratio regex scoped_allocator semaphore set shared_mutex source_location
  span spanstream sstream stack stacktrace stdexcept stdfloat stop_token streambuf string string_view
  strstream syncstream system_error thread tuple type_traits typeindex typeinfo unordered_map unordered_set
  utility valarray variant vector version
  cassert cctype cerrno cfenv cfloat cinttypes climits clocale cmath csetjmp csignal cstdarg cstddef
  cstdint cstdio cstdlib cstring ctime cuchar cwchar cwctype
  assert.h complex.h ctype.h errno.h fenv.h float.h inttypes.h iso646.h limits.h locale.h math.h setjmp.h
  signal.h stdalign.h stdarg.h stdatomic.h stdbool.h stddef.h stdint.h stdio.h stdlib.h stdnoreturn.h
  string.h tgmath.h threads.h time.h uchar.h wchar.h wctype.h)

# The line number of the first line of `file` that is exactly `line`.
function(_wm_line_number file line out)
  file(READ "${file}" content)
  string(FIND "${content}" "${line}" pos)
  if(pos LESS 0)
    set(${out} "?" PARENT_SCOPE)
    return()
  endif()
  string(SUBSTRING "${content}" 0 ${pos} before)
  string(REGEX MATCHALL "\n" newlines "${before}")
  list(LENGTH newlines n)
  math(EXPR n "${n} + 1")
  set(${out} ${n} PARENT_SCOPE)
endfunction()

# The #include lines of `file` (each stripped of trailing comments).
function(_wm_include_lines file out)
  file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
  set(${out} "${lines}" PARENT_SCOPE)
endfunction()

# Appends to `errors_var` every include of a public header in `dir` (*.hpp,
# *.hpp.in, *.h) that is not a standard header or "weightmap/...". `shown`:
# how to name the folder in messages.
function(wm_check_public_headers dir shown errors_var)
  set(errors "${${errors_var}}")
  file(GLOB headers "${dir}/*.hpp" "${dir}/*.hpp.in" "${dir}/*.h")
  if(NOT headers)
    list(APPEND errors "${shown}: no public headers found")
  endif()
  foreach(header IN LISTS headers)
    get_filename_component(name "${header}" NAME)
    _wm_include_lines("${header}" lines)
    foreach(line IN LISTS lines)
      if(NOT line MATCHES "^[ \t]*#[ \t]*include[ \t]*([<\"])([^>\"]+)[>\"]")
        continue()
      endif()
      set(open "${CMAKE_MATCH_1}")
      set(target "${CMAKE_MATCH_2}")
      if(target MATCHES "^weightmap/[A-Za-z0-9_.]+$")
        continue()
      endif()
      if(open STREQUAL "<" AND target IN_LIST WM_STANDARD_HEADERS)
        continue()
      endif()
      _wm_line_number("${header}" "${line}" n)
      string(STRIP "${line}" shown_line)
      list(APPEND errors
        "${shown}/${name}:${n}: ${shown_line}: a public header may include only standard headers and \"weightmap/...\"")
    endforeach()
  endforeach()
  set(${errors_var} "${errors}" PARENT_SCOPE)
endfunction()

# Appends to `errors_var` every include in src/ that breaks the layer table.
function(wm_check_src_layers source_dir errors_var)
  set(errors "${${errors_var}}")
  file(GLOB entries LIST_DIRECTORIES true RELATIVE "${source_dir}/src" "${source_dir}/src/*")
  set(dirs "")
  foreach(entry IN LISTS entries)
    if(IS_DIRECTORY "${source_dir}/src/${entry}")
      list(APPEND dirs "${entry}")
    endif()
  endforeach()
  foreach(layer IN LISTS dirs)
    if(layer IN_LIST WM_LAYER_FREE)
      continue()
    endif()
    if(NOT layer IN_LIST WM_LAYERS)
      list(APPEND errors
        "src/${layer}/: not in the layer table: add it to WM_LAYERS in cmake/Layers.cmake with the layers it may use")
      continue()
    endif()
    set(allowed ${layer} ${WM_LAYER_USES_${layer}})
    file(GLOB files "${source_dir}/src/${layer}/*.h" "${source_dir}/src/${layer}/*.hpp"
                    "${source_dir}/src/${layer}/*.cc" "${source_dir}/src/${layer}/*.inc")
    foreach(file IN LISTS files)
      get_filename_component(name "${file}" NAME)
      _wm_include_lines("${file}" lines)
      foreach(line IN LISTS lines)
        # "X/..." or <X/...> where X is a folder of src/ (<fmt/...>, <sys/...> are not).
        if(NOT line MATCHES "^[ \t]*#[ \t]*include[ \t]*([<\"])([^>\"/]+)/[^>\"]*[>\"]")
          continue()
        endif()
        set(open "${CMAKE_MATCH_1}")
        set(dir "${CMAKE_MATCH_2}")
        if(dir STREQUAL "weightmap" OR dir IN_LIST allowed)
          continue()
        endif()
        if(open STREQUAL "<" AND NOT dir IN_LIST dirs)
          continue()  # a system or third-party header
        endif()
        _wm_line_number("${file}" "${line}" n)
        string(STRIP "${line}" shown_line)
        if(dir IN_LIST WM_LAYERS OR dir IN_LIST WM_LAYER_FREE)
          set(why "layer '${layer}' may not include layer '${dir}'")
        else()
          set(why "'${dir}/' is not a layer of src/")
        endif()
        string(REPLACE ";" " " uses "${WM_LAYER_USES_${layer}}")
        if(uses STREQUAL "")
          set(uses "none")
        endif()
        list(APPEND errors "src/${layer}/${name}:${n}: ${shown_line}: ${why} (it may use: ${uses})")
      endforeach()
    endforeach()
  endforeach()
  set(${errors_var} "${errors}" PARENT_SCOPE)
endfunction()

function(wm_check_layers source_dir)
  set(errors "")
  wm_check_src_layers("${source_dir}" errors)
  wm_check_public_headers("${source_dir}/include/weightmap" "include/weightmap" errors)
  if(errors)
    list(LENGTH errors count)
    list(JOIN errors "\n  " text)
    message(FATAL_ERROR "layer check: ${count} forbidden include(s):\n  ${text}\n"
                        "(the layers and what each may use: cmake/Layers.cmake)")
  endif()
endfunction()

if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  if(DEFINED WM_PUBLIC_HEADERS_DIR)
    set(errors "")
    wm_check_public_headers("${WM_PUBLIC_HEADERS_DIR}" "${WM_PUBLIC_HEADERS_DIR}" errors)
    if(errors)
      list(JOIN errors "\n  " text)
      message(FATAL_ERROR "public header check:\n  ${text}")
    endif()
  elseif(DEFINED WM_SOURCE_DIR)
    wm_check_layers("${WM_SOURCE_DIR}")
  else()
    message(FATAL_ERROR "usage: cmake -DWM_SOURCE_DIR=<root> [-DWM_STAMP=<file>] -P CheckLayers.cmake\n"
                        "       cmake -DWM_PUBLIC_HEADERS_DIR=<include/weightmap> -P CheckLayers.cmake")
  endif()
  if(DEFINED WM_STAMP)
    file(TOUCH "${WM_STAMP}")
  endif()
endif()
