// Whether stderr is a console (GetConsoleMode succeeds only on one).
#include "io/terminal.h"

#include "io/windows/win32.h"

namespace wm {

bool stderr_is_terminal() {
  DWORD mode = 0;
  return GetConsoleMode(GetStdHandle(STD_ERROR_HANDLE), &mode) != 0;
}

}  // namespace wm
