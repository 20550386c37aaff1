// Each `weightmap` subcommand registers itself on the app; its callback
// stores the process exit code in `*exit_code`.
#pragma once

#include <CLI/CLI.hpp>

#include "common/log.h"

namespace wm::cli {

struct Context {
  Logger log;
  int exit_code = 0;
};

void add_inspect_command(CLI::App& app, Context& ctx);
void add_demo_command(CLI::App& app, Context& ctx);

// Prints "weightmap: error: <message>" to stderr and returns 1.
int report_error(const std::string& message);

}  // namespace wm::cli
