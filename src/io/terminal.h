// The CLI's side of the OS: whether a progress bar may draw (stderr is a
// terminal: isatty; GetConsoleMode on Windows), and the command line as
// UTF-8.
#pragma once

#include <string>
#include <vector>

namespace wm {

bool stderr_is_terminal();

// The program's arguments in UTF-8. POSIX: argv as given. Windows: argv is
// in the ANSI code page, which cannot hold every path; the wide command
// line (GetCommandLineW) is split and converted instead.
std::vector<std::string> utf8_arguments(int argc, char** argv);

}  // namespace wm
