// `weightmap platform [--json]`: what this OS and kernel offer of the
// facilities weightmap uses (io/platform.h), each with how it is done here
// or why it is missing.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/platform_output.h"

namespace wm::cli {

void add_platform_command(CLI::App& app, Context& ctx) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("platform", "What this OS offers: each capability, yes or no, and why");
  cmd->add_flag("--json", *json, "Print one JSON object");
  cmd->callback([json, &ctx] {
    std::fputs((*json ? platform_json() : platform_text()).c_str(), stdout);
    ctx.exit_code = 0;
  });
}

}  // namespace wm::cli
