#include "lora/name_match.h"

#include <algorithm>
#include <fmt/format.h>
#include <map>

namespace wm {
namespace {

constexpr std::string_view kWeight = ".weight";

std::string_view strip_weight(std::string_view s) {
  if (s.size() > kWeight.size() && s.ends_with(kWeight)) s.remove_suffix(kWeight.size());
  return s;
}

std::string underscore_key(std::string_view s) {
  std::string k(strip_weight(s));
  std::replace(k.begin(), k.end(), '.', '_');
  return k;
}

struct Suffix {
  std::string_view text;
  LoraRole role;
};
// Longest first, so ".lora.down.weight" is not read as ".weight" of something.
constexpr Suffix kSuffixes[] = {
    {".lora_down.weight", LoraRole::kDown}, {".lora.down.weight", LoraRole::kDown},
    {".lora_up.weight", LoraRole::kUp},     {".lora.up.weight", LoraRole::kUp},
    {".lora_A.weight", LoraRole::kDown},    {".lora_B.weight", LoraRole::kUp},
    {".lora_a", LoraRole::kDown},           {".lora_b", LoraRole::kUp},
    {".alpha", LoraRole::kAlpha},
};

void add_unique(std::vector<size_t>& v, const std::vector<size_t>& more) {
  for (size_t i : more)
    if (std::find(v.begin(), v.end(), i) == v.end()) v.push_back(i);
}

}  // namespace

const std::vector<LoraPrefixRule>& default_lora_prefix_rules() {
  static const std::vector<LoraPrefixRule> kRules = {
      {"lora_unet_", "model.diffusion_model."},
      {"lora_unet_", "unet."},
      {"lora_unet_", "transformer."},
      {"lora_unet_", ""},
      {"lora_te_", "cond_stage_model.transformer."},
      {"lora_te_", "text_encoder."},
      {"lora_te_", ""},
      {"lora_te1_", "conditioner.embedders.0.transformer."},
      {"lora_te1_", "text_encoder."},
      {"lora_te2_", "text_encoder_2."},
      {"base_model.model.", ""},
      {"diffusion_model.", "model.diffusion_model."},
  };
  return kRules;
}

BaseNameIndex::BaseNameIndex(std::span<const std::string> names) : names_(names.begin(), names.end()) {
  for (size_t i = 0; i < names_.size(); ++i) {
    by_name_.emplace(names_[i], i);
    by_underscored_[underscore_key(names_[i])].push_back(i);
  }
}

std::vector<size_t> BaseNameIndex::exact(std::string_view name) const {
  std::vector<size_t> out;
  if (auto it = by_name_.find(std::string(name)); it != by_name_.end()) out.push_back(it->second);
  if (auto it = by_name_.find(fmt::format("{}{}", name, kWeight)); it != by_name_.end()) out.push_back(it->second);
  return out;
}

std::vector<size_t> BaseNameIndex::underscored(std::string_view name) const {
  auto it = by_underscored_.find(underscore_key(name));
  return it == by_underscored_.end() ? std::vector<size_t>{} : it->second;
}

std::optional<LoraNameParts> split_lora_name(std::string_view name) {
  for (const Suffix& s : kSuffixes)
    if (name.size() > s.text.size() && name.ends_with(s.text))
      return LoraNameParts{std::string(name.substr(0, name.size() - s.text.size())), s.role};
  return std::nullopt;
}

namespace {

// The base tensors a stem names, tier by tier; the first tier with a hit wins.
std::vector<size_t> find_base(std::string_view stem, const BaseNameIndex& base,
                              std::span<const LoraPrefixRule> user_rules) {
  auto rewrites = [&](std::span<const LoraPrefixRule> rules, bool with_identity) {
    std::vector<std::string> out;
    if (with_identity) out.emplace_back(stem);
    for (const auto& r : rules)
      if (stem.starts_with(r.from)) out.push_back(r.to + std::string(stem.substr(r.from.size())));
    return out;
  };
  const std::vector<std::string> tiers[] = {rewrites(user_rules, false),
                                            rewrites(default_lora_prefix_rules(), true)};
  for (const auto& candidates : tiers) {
    std::vector<size_t> hits;
    for (const auto& c : candidates) add_unique(hits, base.exact(c));
    if (!hits.empty()) return hits;
    for (const auto& c : candidates) add_unique(hits, base.underscored(c));
    if (!hits.empty()) return hits;
  }
  return {};
}

}  // namespace

LoraNameMatch match_lora_names(std::span<const std::string> lora_names, const BaseNameIndex& base,
                               std::span<const LoraPrefixRule> user_rules) {
  LoraNameMatch out;
  struct Group {
    std::optional<std::string> down, up, alpha;
  };
  std::map<std::string, Group> groups;  // ordered: reports come out sorted by stem
  for (const auto& name : lora_names) {
    auto parts = split_lora_name(name);
    if (!parts) {
      out.unmatched.push_back({{}, name,
                               "not a LoRA factor name (expected .lora_A/.lora_B.weight, .lora_down/.lora_up.weight, "
                               ".lora.down/.lora.up.weight, .lora_a/.lora_b or .alpha)"});
      continue;
    }
    Group& g = groups[parts->stem];
    std::optional<std::string>& slot =
        parts->role == LoraRole::kDown ? g.down : parts->role == LoraRole::kUp ? g.up : g.alpha;
    if (slot) {
      out.unmatched.push_back({{}, name, fmt::format("second factor of the same kind for '{}' (first: '{}')",
                                                     parts->stem, *slot)});
      continue;
    }
    slot = name;
  }
  for (auto& [stem, g] : groups) {
    auto unmatched_all = [&, &g = g](const std::string& reason) {
      for (const auto* n : {&g.down, &g.up, &g.alpha})
        if (*n) out.unmatched.push_back({{}, **n, reason});
    };
    if (!g.down || !g.up) {
      unmatched_all(g.down ? "no matching up factor" : g.up ? "no matching down factor" : "alpha without factors");
      continue;
    }
    std::vector<size_t> hits = find_base(stem, base, user_rules);
    if (hits.empty()) {
      unmatched_all(fmt::format("no base tensor matches '{}' (tried prefix rules and dots as underscores)", stem));
      continue;
    }
    if (hits.size() > 1) {
      unmatched_all(fmt::format("ambiguous: '{}' matches base tensors '{}' and '{}'", stem, base.name(hits[0]),
                                base.name(hits[1])));
      continue;
    }
    out.pairs.push_back({stem, *g.down, *g.up, g.alpha, hits[0]});
  }
  return out;
}

}  // namespace wm
