# Sources that exist for one processor architecture only, chosen by file name
# so that no source needs an #ifdef for the architecture:
#   *_avx2.cc, *_avx512.cc, *_x86_64.cc   x86-64 only (intrinsics, CPUID)
#   *_neon.cc, *_aarch64.cc               arm64 only
#   *_generic.cc                          any other architecture
# WM_ARCH (x86_64, aarch64 or generic) comes from CMAKE_SYSTEM_PROCESSOR,
# which a toolchain file sets when cross-compiling.
set(WM_ARCH_PROCESSOR "${CMAKE_SYSTEM_PROCESSOR}")
if(WM_ARCH_PROCESSOR STREQUAL "")
  set(WM_ARCH_PROCESSOR "${CMAKE_HOST_SYSTEM_PROCESSOR}")
  message(STATUS "weightmap: CMAKE_SYSTEM_PROCESSOR is not set (a toolchain file should set it); "
                 "taking the host's, ${WM_ARCH_PROCESSOR}")
endif()
string(TOLOWER "${WM_ARCH_PROCESSOR}" WM_ARCH_PROCESSOR)
if(WM_ARCH_PROCESSOR MATCHES "^(x86_64|amd64|x64)$")
  set(WM_ARCH x86_64)
elseif(WM_ARCH_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(WM_ARCH aarch64)
else()
  set(WM_ARCH generic)
  message(STATUS "weightmap: no SIMD kernels for processor '${WM_ARCH_PROCESSOR}': portable kernels only")
endif()

set(WM_ARCH_SUFFIXES_x86_64 _avx2 _avx512 _x86_64)
set(WM_ARCH_SUFFIXES_aarch64 _neon _aarch64)
set(WM_ARCH_SUFFIXES_generic _generic)

# Removes from the list named `var` the sources of other architectures.
function(wm_keep_arch_sources var)
  set(kept "")
  foreach(src IN LISTS ${var})
    get_filename_component(stem "${src}" NAME_WE)
    set(owner "")
    foreach(arch x86_64 aarch64 generic)
      foreach(suffix IN LISTS WM_ARCH_SUFFIXES_${arch})
        if(stem MATCHES "${suffix}$")
          set(owner ${arch})
        endif()
      endforeach()
    endforeach()
    if(owner STREQUAL "" OR owner STREQUAL WM_ARCH)
      list(APPEND kept "${src}")
    endif()
  endforeach()
  set(${var} "${kept}" PARENT_SCOPE)
endfunction()
