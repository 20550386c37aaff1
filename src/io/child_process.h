// Running a child process and reading what it printed (`weightmap bench`
// runs each strategy in a fresh process; `--plot` runs gnuplot), and this
// process's own executable. POSIX: posix_spawn(p) + waitpid; Windows:
// CreateProcessW (Capability::kSpawnChild).
#pragma once

#include <string>
#include <vector>

#include "common/error.h"

namespace wm {

struct ChildOptions {
  bool search_path = false;     // argv[0] is looked up in PATH (else it is a path)
  bool capture_stderr = false;  // else stderr goes to the null device, as stdin always does
};

struct ChildResult {
  bool exited = false;   // ended by returning or exit(), not by a signal or exception
  int exit_code = -1;    // when exited
  std::string out, err;  // what it wrote to stdout (and stderr, when captured)
  bool ok() const { return exited && exit_code == 0; }
};

// Runs argv (argv[0] the program) to its end. Fails only when it cannot be
// started, naming the program (ErrorCode::kNotFound when it does not exist);
// a child that fails is a ChildResult that is not ok().
Result<ChildResult> run_child(const std::vector<std::string>& argv, const ChildOptions& options = {});

// The path of this process's executable (/proc/self/exe on Linux,
// _NSGetExecutablePath on macOS, GetModuleFileNameW on Windows); an error
// where it cannot be found.
Result<std::string> this_executable_path();

}  // namespace wm
