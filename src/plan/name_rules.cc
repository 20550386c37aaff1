#include "plan/name_rules.h"

#include <fmt/format.h>

namespace wm {

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative matcher with one backtrack point: linear in practice, no recursion.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p, ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::vector<std::string_view> rule_items(std::string_view text) {
  std::vector<std::string_view> items;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

Result<NameRules> NameRules::parse(std::string_view text) {
  NameRules rules;
  for (std::string_view item : rule_items(text)) {
    size_t eq = item.rfind('=');
    std::string_view pattern = eq == std::string_view::npos ? "*" : item.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? item : item.substr(eq + 1);
    if (pattern.empty() || value.empty())
      return Error{{}, {}, {}, fmt::format("rule '{}' must be PATTERN=VALUE", item)};
    rules.add(std::string(pattern), std::string(value));
  }
  return rules;
}

const NameRule* NameRules::match_rule(std::string_view name) const {
  for (const auto& r : rules_)
    if (glob_match(r.pattern, name)) return &r;
  return nullptr;
}

std::optional<std::string> NameRules::match(std::string_view name) const {
  const NameRule* r = match_rule(name);
  return r ? std::optional<std::string>(r->value) : std::nullopt;
}

}  // namespace wm
