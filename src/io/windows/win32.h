// What io/windows/*.cc share: <windows.h> without its min/max macros, and
// the conversions every Windows call needs (UTF-8 paths to wide ones, a
// NativeHandle to a HANDLE, an error code to text).
#pragma once

// Windows 10's API (PrefetchVirtualMemory needs 8; QueryWorkingSetEx and
// the K32 memory calls live in kernel32 from 7 on with PSAPI_VERSION 2).
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00
#endif
#ifndef PSAPI_VERSION
#define PSAPI_VERSION 2
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <string>

#include "io/native_handle.h"

namespace wm::win {

inline HANDLE handle_of(NativeHandle h) { return reinterpret_cast<HANDLE>(h.value); }
inline NativeHandle native(HANDLE h) {
  return NativeHandle{h == INVALID_HANDLE_VALUE ? -1 : reinterpret_cast<std::intptr_t>(h)};
}

// UTF-8 to UTF-16 (the W calls). Empty on invalid UTF-8.
std::wstring widen(const std::string& utf8);
std::string narrow(const std::wstring& wide);
// A path for CreateFileW and friends: UTF-16, absolute, with the "\\?\"
// prefix, so that paths past MAX_PATH (260) work without the long-path
// registry setting. Relative and UNC paths are made absolute first.
std::wstring long_path(const std::string& utf8);

// "The system cannot find the file specified. (error 2)".
std::string error_text(DWORD err);
// The errno value closest to a Windows error (the seams report errno).
int errno_of(DWORD err);

}  // namespace wm::win
