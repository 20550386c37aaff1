// Rules that map tensor names to values, as users write them on the command
// line: "text_encoder.*=cpu,*=sim". Patterns are globs ('*' any run, '?' one
// character) matched against the whole qualified name; the first rule that
// matches wins.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace wm {

struct NameRule {
  std::string pattern;
  std::string value;
};

class NameRules {
 public:
  // "PATTERN=VALUE,PATTERN=VALUE,..."; a bare "VALUE" means "*=VALUE".
  static Result<NameRules> parse(std::string_view text);

  void add(std::string pattern, std::string value) { rules_.push_back({std::move(pattern), std::move(value)}); }
  std::optional<std::string> match(std::string_view name) const;
  // The first rule matching `name`, or nullptr.
  const NameRule* match_rule(std::string_view name) const;
  const std::vector<NameRule>& rules() const { return rules_; }
  bool empty() const { return rules_.empty(); }

 private:
  std::vector<NameRule> rules_;
};

bool glob_match(std::string_view pattern, std::string_view text);

// The comma-separated items of a rules text, spaces trimmed, empty ones
// dropped: how every rule list (device, type, split) is read.
std::vector<std::string_view> rule_items(std::string_view text);

}  // namespace wm
