// io/terminal.h on POSIX: isatty; argv is already bytes as given.
#include <unistd.h>

#include "io/terminal.h"

namespace wm {

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

std::vector<std::string> utf8_arguments(int argc, char** argv) { return {argv, argv + argc}; }

}  // namespace wm
