// io/child_process.h on Windows: CreateProcessW with stdout (and stderr)
// into temporary files that delete themselves on close, read back once the
// child has ended (files, not pipes: the child never blocks on a full pipe).
#include "io/child_process.h"

#include <fmt/format.h>

#include "io/windows/win32.h"

namespace wm {
namespace {

// One argument quoted as the C runtime's parser reads it back: backslashes
// are literal except before a quote, where they escape in pairs.
std::wstring quote(const std::wstring& arg) {
  if (!arg.empty() && arg.find_first_of(L" \t\n\v\"") == std::wstring::npos) return arg;
  std::wstring out = L"\"";
  size_t backslashes = 0;
  for (wchar_t c : arg) {
    if (c == L'\\') {
      ++backslashes;
      continue;
    }
    out.append(c == L'"' ? backslashes * 2 + 1 : backslashes, L'\\');
    backslashes = 0;
    out.push_back(c);
  }
  out.append(backslashes * 2, L'\\');
  out.push_back(L'"');
  return out;
}

// An inheritable temporary file, removed by the system when the last
// handle to it closes.
HANDLE temp_file() {
  wchar_t dir[MAX_PATH + 1] = {}, name[MAX_PATH + 1] = {};
  if (GetTempPathW(MAX_PATH + 1, dir) == 0 || GetTempFileNameW(dir, L"wmc", 0, name) == 0) return INVALID_HANDLE_VALUE;
  SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, TRUE};
  return CreateFileW(name, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, &sa,
                     CREATE_ALWAYS, FILE_ATTRIBUTE_TEMPORARY | FILE_FLAG_DELETE_ON_CLOSE, nullptr);
}

HANDLE null_device(DWORD access) {
  SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, TRUE};
  return CreateFileW(L"NUL", access, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_EXISTING, 0, nullptr);
}

std::string read_all(HANDLE h) {
  std::string text;
  char buf[65536];
  for (uint64_t off = 0;;) {
    OVERLAPPED ov{};
    ov.Offset = static_cast<DWORD>(off);
    ov.OffsetHigh = static_cast<DWORD>(off >> 32);
    DWORD n = 0;
    if (!ReadFile(h, buf, sizeof buf, &n, &ov) || n == 0) break;
    text.append(buf, n);
    off += n;
  }
  return text;
}

// Closes what it holds when it goes.
struct Handles {
  HANDLE in = INVALID_HANDLE_VALUE, out = INVALID_HANDLE_VALUE, err = INVALID_HANDLE_VALUE;
  ~Handles() {
    for (HANDLE h : {in, out, err})
      if (h != INVALID_HANDLE_VALUE) CloseHandle(h);
  }
};

}  // namespace

Result<ChildResult> run_child(const std::vector<std::string>& argv, const ChildOptions& options) {
  if (argv.empty()) return Error{{}, {}, {}, "run_child: no program given", ErrorCode::kInvalidArgument};
  std::wstring command;
  for (const auto& a : argv) {
    if (!command.empty()) command.push_back(L' ');
    command += quote(win::widen(a));
  }
  Handles h;
  h.in = null_device(GENERIC_READ);
  h.out = temp_file();
  h.err = options.capture_stderr ? temp_file() : null_device(GENERIC_WRITE);
  if (h.in == INVALID_HANDLE_VALUE || h.out == INVALID_HANDLE_VALUE || h.err == INVALID_HANDLE_VALUE)
    return Error{argv[0], {}, {},
                 fmt::format("cannot create a temporary file for the child's output: {}", win::error_text(GetLastError()))};
  STARTUPINFOW si{};
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = h.in;
  si.hStdOutput = h.out;
  si.hStdError = h.err;
  PROCESS_INFORMATION pi{};
  // No application name: CreateProcessW looks the first word up in PATH
  // (search_path); else the program is the path given.
  std::wstring program = win::widen(argv[0]);
  if (!CreateProcessW(options.search_path ? nullptr : program.c_str(), command.data(), nullptr, nullptr, TRUE,
                      CREATE_NO_WINDOW, nullptr, nullptr, &si, &pi)) {
    DWORD err = GetLastError();
    return Error{argv[0], {}, {}, fmt::format("cannot start the child: {}", win::error_text(err)),
                 err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND ? ErrorCode::kNotFound : ErrorCode::kIo};
  }
  CloseHandle(pi.hThread);
  WaitForSingleObject(pi.hProcess, INFINITE);
  DWORD code = 0;
  ChildResult r;
  r.exited = GetExitCodeProcess(pi.hProcess, &code) != 0;
  // An exception that ended the child shows as an NTSTATUS exit code
  // (0xC0000005 and the like): not a normal exit.
  if (r.exited && (code & 0xC0000000u) == 0xC0000000u) r.exited = false;
  r.exit_code = r.exited ? static_cast<int>(code) : -1;
  CloseHandle(pi.hProcess);
  r.out = read_all(h.out);
  if (options.capture_stderr) r.err = read_all(h.err);
  return r;
}

Result<std::string> this_executable_path() {
  std::wstring buf(MAX_PATH, L'\0');
  for (;;) {
    DWORD n = GetModuleFileNameW(nullptr, buf.data(), static_cast<DWORD>(buf.size()));
    if (n == 0)
      return Error{{}, {}, {}, fmt::format("cannot read this executable's path: {}", win::error_text(GetLastError()))};
    if (n < buf.size()) {
      buf.resize(n);
      return win::narrow(buf);
    }
    buf.resize(buf.size() * 2);  // truncated: a long path
  }
}

}  // namespace wm
