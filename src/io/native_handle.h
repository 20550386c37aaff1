// An open file as the operating system knows it, carried as an integer so
// that no header outside io/posix and io/windows needs the OS's types: a
// POSIX descriptor on Linux, macOS and the BSDs, a Windows HANDLE there.
// -1 is "none" on both (it is INVALID_HANDLE_VALUE on Windows).
#pragma once

#include <cstdint>

namespace wm {

struct NativeHandle {
  std::intptr_t value = -1;
  bool valid() const { return value != -1; }
  bool operator==(const NativeHandle&) const = default;
};

}  // namespace wm
