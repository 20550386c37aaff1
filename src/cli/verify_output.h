// How `verify` shows its report: text for people, JSON for tools.
#pragma once

#include <string>

#include "verify/verify.h"

namespace wm::cli {

std::string verify_text(const VerifyReport& r);
std::string verify_json(const VerifyReport& r);
// "a, b, c": the tensors that differ from their files.
std::string mismatch_names(const VerifyReport& r);

}  // namespace wm::cli
