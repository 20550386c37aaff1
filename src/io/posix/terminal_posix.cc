// io/terminal.h on POSIX: isatty.
#include <unistd.h>

#include "io/terminal.h"

namespace wm {

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

}  // namespace wm
