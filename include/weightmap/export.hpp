// WM_API marks what the weightmap library exports. A shared build compiles
// everything else hidden (-fvisibility=hidden plus a version script), so the
// public headers are the whole binary interface.
#pragma once

#if defined(_WIN32)
#  if defined(WEIGHTMAP_STATIC)
#    define WM_API
#  elif defined(WEIGHTMAP_BUILDING)
#    define WM_API __declspec(dllexport)
#  else
#    define WM_API __declspec(dllimport)
#  endif
#else
#  define WM_API __attribute__((visibility("default")))
#endif
