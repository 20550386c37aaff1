# The platform check: src/io is the only folder that may talk to the
# operating system. Anywhere else in src/ and include/weightmap/ the build
# refuses
#   - an OS header: <sys/...>, <unistd.h>, <fcntl.h>, <spawn.h>,
#     <liburing.h>, <windows.h>, <dirent.h>, <signal.h>, <pthread.h>, ...
#     (the list below);
#   - a preprocessor test of the OS: __linux__, _WIN32, __APPLE__,
#     __unix__, __FreeBSD__, ... in #if/#ifdef/#ifndef/#elif.
# What other layers need from the OS goes through a function of src/io with
# a platform-neutral signature (docs/architecture.md, "The platform layer").
# CPU-architecture headers (<immintrin.h>, <arm_neon.h>) are not OS headers.
#
# Two ways to run it, like cmake/CheckLayers.cmake:
#   include(cmake/CheckPlatform.cmake) + wm_check_platform(<root>)
#                                      from the root CMakeLists.txt, at
#                                      configure time;
#   cmake -DWM_SOURCE_DIR=<root> -P cmake/CheckPlatform.cmake
#                                      the same, at build time (with the
#                                      layer check) and in its test.
# Every violation is listed (file:line, the line, the rule), then the check
# fails.

cmake_policy(VERSION 3.25)

# OS headers, by exact name (compared in lower case: Windows headers come
# in both cases) ...
set(WM_OS_HEADERS
  unistd.h fcntl.h spawn.h liburing.h windows.h winbase.h winsock2.h ws2tcpip.h io.h direct.h process.h
  dirent.h signal.h csignal pthread.h sched.h semaphore.h poll.h dlfcn.h termios.h pwd.h grp.h aio.h
  mntent.h syslog.h utime.h libgen.h malloc.h ucontext.h execinfo.h
  memoryapi.h fileapi.h handleapi.h processthreadsapi.h synchapi.h errhandlingapi.h psapi.h shlobj.h
  winternl.h ntdef.h versionhelpers.h)
# ... and by folder: <sys/mman.h>, <linux/...>, <mach/...>.
set(WM_OS_HEADER_DIRS_REGEX "^(sys|linux|asm|asm-generic|mach|mach-o|netinet|arpa|net|machine|bsd)/")
# Macros that name an operating system (compiler macros like _MSC_VER and
# architecture macros like __x86_64__ are not these).
set(WM_OS_MACROS
  __linux__ __linux linux __gnu_linux__ _WIN32 _WIN64 __WIN32__ WIN32 __CYGWIN__ __MINGW32__ __MINGW64__
  __APPLE__ __MACH__ __unix__ __unix unix __FreeBSD__ __NetBSD__ __OpenBSD__ __DragonFly__ __ANDROID__
  __sun __HAIKU__ _POSIX_VERSION)
# Files outside src/io that may test the OS, and why. Nothing else.
set(WM_PLATFORM_MACRO_ALLOWED
  # DLL import/export decoration (__declspec on Windows, visibility
  # elsewhere): how the public symbols are linked, which the public
  # headers must carry; no OS call follows from it.
  include/weightmap/export.hpp
  include/weightmap/weightmap.h)

# The files to check: everything in src/ but src/io/, and the public headers.
function(_wm_platform_files source_dir out)
  file(GLOB_RECURSE files RELATIVE "${source_dir}"
    "${source_dir}/src/*.h" "${source_dir}/src/*.hpp" "${source_dir}/src/*.cc" "${source_dir}/src/*.c"
    "${source_dir}/src/*.inc" "${source_dir}/include/weightmap/*")
  list(FILTER files EXCLUDE REGEX "^src/io/")
  list(SORT files)
  set(${out} "${files}" PARENT_SCOPE)
endfunction()

# Appends to `errors_var` every OS header and OS test in `rel` (relative to
# source_dir).
function(_wm_platform_check_file source_dir rel errors_var)
  set(errors "${${errors_var}}")
  file(STRINGS "${source_dir}/${rel}" lines REGEX "^[ \t]*#")
  file(READ "${source_dir}/${rel}" content)
  foreach(line IN LISTS lines)
    set(why "")
    if(line MATCHES "^[ \t]*#[ \t]*include[ \t]*<([^>]+)>")
      string(TOLOWER "${CMAKE_MATCH_1}" header)
      if(header IN_LIST WM_OS_HEADERS OR header MATCHES "${WM_OS_HEADER_DIRS_REGEX}")
        set(why "an OS header outside src/io: call an io function instead")
      endif()
    elseif(line MATCHES "^[ \t]*#[ \t]*(if|ifdef|ifndef|elif|elifdef|elifndef)[^A-Za-z0-9_](.*)$")
      set(condition "${CMAKE_MATCH_2}")
      string(REGEX REPLACE "//.*$" "" condition "${condition}")
      string(REGEX MATCHALL "[A-Za-z_][A-Za-z0-9_]*" words "${condition}")
      foreach(word IN LISTS words)
        if(word IN_LIST WM_OS_MACROS AND NOT rel IN_LIST WM_PLATFORM_MACRO_ALLOWED)
          set(why "a test of the OS (${word}) outside src/io: put the platform code in src/io")
          break()
        endif()
      endforeach()
    endif()
    if(why)
      # The line number: newlines before the line's first occurrence, plus one.
      string(FIND "${content}" "${line}" pos)
      string(SUBSTRING "${content}" 0 ${pos} before)
      string(REGEX MATCHALL "\n" newlines "${before}")
      list(LENGTH newlines n)
      math(EXPR n "${n} + 1")
      string(STRIP "${line}" shown)
      list(APPEND errors "${rel}:${n}: ${shown}: ${why}")
    endif()
  endforeach()
  set(${errors_var} "${errors}" PARENT_SCOPE)
endfunction()

function(wm_check_platform source_dir)
  _wm_platform_files("${source_dir}" files)
  set(errors "")
  foreach(rel IN LISTS files)
    _wm_platform_check_file("${source_dir}" "${rel}" errors)
  endforeach()
  if(errors)
    list(LENGTH errors count)
    list(JOIN errors "\n  " text)
    message(FATAL_ERROR "platform check: ${count} OS dependency(ies) outside src/io:\n  ${text}\n"
                        "(src/io is the platform layer: cmake/CheckPlatform.cmake, docs/architecture.md)")
  endif()
endfunction()

if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  if(NOT DEFINED WM_SOURCE_DIR)
    message(FATAL_ERROR "usage: cmake -DWM_SOURCE_DIR=<root> -P CheckPlatform.cmake")
  endif()
  wm_check_platform("${WM_SOURCE_DIR}")
endif()
