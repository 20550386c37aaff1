// io/platform.h's answers on Windows: what has a Windows mechanism, and for
// what does not, the reason and what weightmap does instead.
#include <fmt/format.h>
#include <string>

#include "io/platform.h"
#include "io/process_memory.h"
#include "io/windows/win32.h"

namespace wm {
namespace {

CapabilityStatus yes(std::string mechanism) { return {true, std::move(mechanism), {}}; }
CapabilityStatus no(std::string reason) { return {false, {}, std::move(reason)}; }

// Wine says so through an export of its ntdll; real Windows has none.
const char* wine_version() {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  if (ntdll == nullptr) return nullptr;
  using Fn = const char* (*)();
  auto fn = reinterpret_cast<Fn>(reinterpret_cast<void*>(GetProcAddress(ntdll, "wine_get_version")));
  return fn ? fn() : nullptr;
}

// Whether the private-bytes figure moves when this process commits and
// touches memory (wine leaves it at 0): if not, there is no anon figure.
bool private_bytes_counted() {
  constexpr SIZE_T kProbe = 4u << 20;
  const uint64_t before = read_process_memory().anon_kib;
  auto* p = static_cast<volatile char*>(VirtualAlloc(nullptr, kProbe, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE));
  if (p == nullptr) return false;
  for (SIZE_T i = 0; i < kProbe; i += 4096) p[i] = 1;
  const uint64_t after = read_process_memory().anon_kib;
  VirtualFree(const_cast<char*>(p), 0, MEM_RELEASE);
  return after >= before + kProbe / 2 / 1024;
}

}  // namespace

CapabilityStatus probe_capability(Capability c) {
  switch (c) {
    case Capability::kSharedReadOnlyMap: return yes("CreateFileMappingW(PAGE_READONLY) + MapViewOfFile(FILE_MAP_READ)");
    case Capability::kPrivateCopyOnWrite: return yes("MapViewOfFile(FILE_MAP_COPY) over each patched range");
    case Capability::kAccessHints:
      return no("Windows has no sequential/random advice for a mapping; the prefetch (PrefetchVirtualMemory) is used "
                "where read-ahead matters");
    case Capability::kPrefetch: return yes("PrefetchVirtualMemory");
    case Capability::kPopulateRead:
      return no("Windows has no call that maps pages and reports an unreadable one as an error "
                "(MADV_POPULATE_READ is Linux-only): the prefetcher reads with ReadFile instead");
    case Capability::kResidencyQuery:
      return yes("QueryWorkingSetEx (this process's working set, not the whole system cache)");
    case Capability::kPageCacheEviction:
      return no("Windows has no call to drop one file from the system cache: copy loads can read with "
                "FILE_FLAG_NO_BUFFERING (--io direct) so they never fill it");
    case Capability::kFileLease:
      return no("Windows has no file lease (notice before another process writes): a shared LockFileEx holds "
                "writers off instead");
    case Capability::kFileLock: return yes("LockFileEx (shared; mandatory: it refuses writers)");
    case Capability::kMemoryPinning: return yes("VirtualLock (working-set minimum raised as needed)");
    case Capability::kPinOnFault: return no("Windows has no lock-on-fault: VirtualLock reads and pins every page now");
    case Capability::kDirectIo: return yes("FILE_FLAG_NO_BUFFERING (sector-aligned)");
    case Capability::kAsyncIo: return yes("overlapped ReadFile (buffered)");
    case Capability::kFaultGuard: return yes("vectored exception handler (EXCEPTION_IN_PAGE_ERROR)");
    case Capability::kProcessMemory:
      if (!private_bytes_counted())
        return no("GetProcessMemoryInfo's private bytes do not grow when this process commits memory (wine leaves "
                  "them at 0): only the working set and its peak are reported; the anonymous/file split reads 0");
      return yes("GetProcessMemoryInfo (working set; private bytes stand in for the anonymous part)");
    case Capability::kCgroupMemoryLimit:
      return no("cgroups are Linux-only; Windows job-object limits are not read");
    case Capability::kSpawnChild: return yes("CreateProcessW");
  }
  return no("unknown capability");
}

std::string probe_platform_description() {
  // GetVersionEx lies without a manifest; RtlGetVersion does not.
  using RtlGetVersionFn = LONG(WINAPI*)(OSVERSIONINFOW*);
  OSVERSIONINFOW v{};
  v.dwOSVersionInfoSize = sizeof v;
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  auto fn = ntdll ? reinterpret_cast<RtlGetVersionFn>(reinterpret_cast<void*>(GetProcAddress(ntdll, "RtlGetVersion")))
                  : nullptr;
  std::string text = fn && fn(&v) == 0
                         ? fmt::format("Windows {}.{}.{} x86_64", v.dwMajorVersion, v.dwMinorVersion, v.dwBuildNumber)
                         : std::string("Windows x86_64");
  if (const char* wine = wine_version()) text += fmt::format(" (wine {})", wine);
  return text;
}

}  // namespace wm
