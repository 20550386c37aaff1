// platform_support.h on Windows.
#include "platform_support.h"

#include <filesystem>
#include <malloc.h>
#include <stdlib.h>
#include <cstring>
#include <windows.h>
#include <psapi.h>
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

bool set_env(const char* name, const char* value) {
  return _putenv_s(name, value ? value : "") == 0;  // "" removes it on Windows
}

std::vector<std::string> killed_child_command() { return {"cmd", "/c", "exit -1073741819"}; }  // 0xC0000005

// Walks the address space: each mapped view's file name (a device path,
// \\Device\\HarddiskVolume1\\...) compared by its last component.
std::optional<bool> maps_file(const std::string& path, std::string* why) {
  const std::wstring want = std::filesystem::path(path).filename().wstring();
  MEMORY_BASIC_INFORMATION info{};
  const char* at = nullptr;
  bool any_named = false;
  while (VirtualQuery(at, &info, sizeof info) == sizeof info) {
    if (info.Type == MEM_MAPPED && info.State == MEM_COMMIT) {
      wchar_t name[1024];
      DWORD n = GetMappedFileNameW(GetCurrentProcess(), info.BaseAddress, name, 1024);
      if (n > 0) {
        any_named = true;
        std::wstring got(name, n);
        if (got.size() >= want.size() && got.compare(got.size() - want.size(), want.size(), want) == 0) return true;
      }
    }
    at = static_cast<const char*>(info.BaseAddress) + info.RegionSize;
  }
  if (!any_named) {
    if (why) *why = "GetMappedFileNameW names no mapped view here";
    return std::nullopt;
  }
  return false;
}

ExclusiveLock::ExclusiveLock(const std::string& path) {
  HANDLE h = CreateFileW(std::filesystem::path(path).wstring().c_str(), GENERIC_READ | GENERIC_WRITE,
                         FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                         FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) return;
  handle_ = reinterpret_cast<intptr_t>(h);
  OVERLAPPED ov{};
  held_ = LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, MAXDWORD, MAXDWORD, &ov) != 0;
}

ExclusiveLock::~ExclusiveLock() {
  if (handle_ == -1) return;
  HANDLE h = reinterpret_cast<HANDLE>(handle_);
  if (held_) {
    OVERLAPPED ov{};
    UnlockFileEx(h, 0, MAXDWORD, MAXDWORD, &ov);
  }
  CloseHandle(h);
}

std::string device_path() { return "NUL"; }

}  // namespace wm::test
