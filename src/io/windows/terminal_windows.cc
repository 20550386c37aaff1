// io/terminal.h on Windows: stderr is a console when GetConsoleMode
// succeeds on it; arguments from the wide command line.
#include "io/terminal.h"

#include "io/windows/win32.h"
#include <shellapi.h>

namespace wm {

bool stderr_is_terminal() {
  DWORD mode = 0;
  return GetConsoleMode(GetStdHandle(STD_ERROR_HANDLE), &mode) != 0;
}

std::vector<std::string> utf8_arguments(int argc, char** argv) {
  int n = 0;
  wchar_t** wide = CommandLineToArgvW(GetCommandLineW(), &n);
  if (wide == nullptr || n != argc) {  // cannot happen for a normal start; keep what the runtime gave
    if (wide != nullptr) LocalFree(wide);
    return {argv, argv + argc};
  }
  std::vector<std::string> args;
  args.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) args.push_back(win::narrow(wide[i]));
  LocalFree(wide);
  return args;
}

}  // namespace wm
