// Whether a progress bar may draw: stderr is a terminal (isatty;
// GetConsoleMode on Windows).
#pragma once

namespace wm {

bool stderr_is_terminal();

}  // namespace wm
