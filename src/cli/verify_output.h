// How `verify` shows its report: text for people, JSON for tools.
#pragma once

#include <string>

#include "verify/verify.h"

namespace wm::cli {

std::string verify_text(const VerifyReport& r);
// With the load's own report (Model::report_json) as "load": what was
// verified is what that load did (its shard mode, its placements).
std::string verify_json(const VerifyReport& r, const std::string& load_report);
// "a, b, c": the tensors that differ from their files.
std::string mismatch_names(const VerifyReport& r);

}  // namespace wm::cli
