// platform_support.h on Windows.
#include "platform_support.h"

#include <filesystem>
#include <malloc.h>
#include <cstring>
#include <windows.h>
#include <system_error>

#include "test_support.h"

namespace wm::test {

void trim_heap() { _heapmin(); }

bool make_fifo(const std::string&, std::string* why) {
  if (why) *why = "Windows has no FIFO in the file system (its named pipes live in \\\\.\\pipe\\)";
  return false;
}

bool shrink_file(const std::string& path, uint64_t size, std::string* why) {
  std::error_code ec;
  std::filesystem::resize_file(path, size, ec);
  if (!ec) return true;
  if (why)
    *why = "Windows refuses to shrink a file that has a mapped view (" + ec.message() +
           "), so a mapped page cannot lose its file here";
  return false;
}

bool run_cli_with_open_file_limit(uint64_t, uint64_t, const std::string&, CommandResult*, std::string* why) {
  if (why) *why = "Windows has no per-process open-file limit (handles are bounded by memory only)";
  return false;
}

UnreadablePage::UnreadablePage() {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  page_ = si.dwPageSize;
  void* p = VirtualAlloc(nullptr, 2 * page_, MEM_RESERVE, PAGE_NOACCESS);
  if (p == nullptr) return;
  if (VirtualAlloc(p, page_, MEM_COMMIT, PAGE_READWRITE) == nullptr) {
    VirtualFree(p, 0, MEM_RELEASE);
    return;
  }
  auto bytes = pattern(page_, 1);
  std::memcpy(p, bytes.data(), page_);
  base_ = static_cast<std::byte*>(p);
}

UnreadablePage::~UnreadablePage() {
  if (base_) VirtualFree(base_, 0, MEM_RELEASE);
}

bool died_of_fault(int status) {
  return static_cast<DWORD>(status) == EXCEPTION_ACCESS_VIOLATION ||
         static_cast<DWORD>(status) == EXCEPTION_IN_PAGE_ERROR;
}

void raise_fault_without_access() { RaiseException(EXCEPTION_IN_PAGE_ERROR, 0, 0, nullptr); }

bool mapped_files_can_shrink(std::string* why) {
  if (why)
    *why = "Windows refuses to shrink a file that has a mapped view (ERROR_USER_MAPPED_FILE), so its mapped pages "
           "cannot fault that way here; the fault guard itself is tested on faulting pages (SigbusGuard.*)";
  return false;
}

std::string device_path() { return "NUL"; }

}  // namespace wm::test
