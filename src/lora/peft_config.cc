#include "lora/peft_config.h"

#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <simdjson.h>
#include <unordered_set>

#include "common/path_join.h"
#include "io/file.h"

namespace wm {
namespace {

constexpr std::string_view kPeftStatePrefix = "base_model.model.";

class ConfigParser {
 public:
  explicit ConfigParser(const std::string& path) : path_(path) {}

  Result<PeftConfig> parse(std::string_view json) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (auto err = parser.parse(json.data(), json.size()).get(doc))
      return fail(fmt::format("not valid JSON: {}", simdjson::error_message(err)));
    simdjson::dom::object root;
    if (doc.get_object().get(root)) return fail("not a JSON object");
    if (auto dup = duplicate_key(root)) return fail(fmt::format("key \"{}\" twice", *dup));

    PeftConfig c;
    c.path = path_;
    for (auto field : root) {
      const std::string_view key = field.key;
      const simdjson::dom::element v = field.value;
      if (key == "peft_type") {
        std::string_view type;
        if (v.get_string().get(type) || type != "LORA")
          return fail(fmt::format("\"peft_type\" is {}: only LORA adapters can be applied", simdjson::minify(v)));
      } else if (key == "r") {
        auto r = rank(v, "\"r\"");
        if (!r) return r.error();
        c.r = *r;
      } else if (key == "lora_alpha") {
        auto a = number(v, "\"lora_alpha\"");
        if (!a) return a.error();
        c.lora_alpha = *a;
      } else if (key == "use_rslora") {
        if (v.is_null()) continue;
        if (v.get_bool().get(c.use_rslora)) return fail("\"use_rslora\" is not true or false");
      } else if (key == "use_dora" || key == "fan_in_fan_out" || key == "lora_bias") {
        // DoRA rescales each column by a learned magnitude; fan_in_fan_out
        // stores the base transposed (GPT-2 Conv1D), so B A must be too;
        // lora_bias adds a bias to lora_B, which no weight patch carries.
        bool on = false;
        if (!v.is_null() && v.get_bool().get(on)) return fail(fmt::format("\"{}\" is not true or false", key));
        if (on) return fail(fmt::format("\"{}\" is true: such adapters cannot be applied as W += scale * B A", key));
      } else if (key == "rank_pattern" || key == "alpha_pattern") {
        auto patterns = pattern_map(v, key);
        if (!patterns) return patterns.error();
        (key == "rank_pattern" ? c.rank_pattern : c.alpha_pattern) = std::move(patterns.value());
      }
    }
    return c;
  }

 private:
  Error fail(std::string message) const { return Error{path_, {}, {}, std::move(message), ErrorCode::kBadFormat}; }

  static std::optional<std::string> duplicate_key(simdjson::dom::object o) {
    std::unordered_set<std::string_view> keys;
    for (auto field : o)
      if (!keys.insert(field.key).second) return std::string(field.key);
    return std::nullopt;
  }

  Result<double> number(simdjson::dom::element v, const std::string& what) const {
    double d = 0;
    if (v.get_double().get(d) || !std::isfinite(d)) return fail(fmt::format("{} is not a finite number", what));
    return d;
  }

  Result<uint32_t> rank(simdjson::dom::element v, const std::string& what) const {
    uint64_t r = 0;
    if (v.get_uint64().get(r) || r == 0 || r > UINT32_MAX)
      return fail(fmt::format("{} is {}; a rank is a whole number from 1", what, simdjson::minify(v)));
    return static_cast<uint32_t>(r);
  }

  Result<std::vector<PeftPattern>> pattern_map(simdjson::dom::element v, std::string_view field) const {
    std::vector<PeftPattern> out;
    if (v.is_null()) return out;
    simdjson::dom::object o;
    if (v.get_object().get(o)) return fail(fmt::format("\"{}\" is not an object", field));
    if (auto dup = duplicate_key(o)) return fail(fmt::format("\"{}\" has the key \"{}\" twice", field, *dup));
    for (auto entry : o) {
      PeftPattern p;
      p.key = std::string(entry.key);
      const std::string what = fmt::format("\"{}\" entry \"{}\"", field, p.key);
      if (field == "rank_pattern") {
        auto r = rank(entry.value, what);
        if (!r) return r.error();
        p.value = *r;
      } else {
        auto a = number(entry.value, what);
        if (!a) return a.error();
        p.value = *a;
      }
      try {
        p.re = std::regex("(.*\\.)?(" + p.key + ")", std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return fail(fmt::format("{}: the key is not a regular expression weightmap can match: {}", what, e.what()));
      }
      out.push_back(std::move(p));
    }
    return out;
  }

  const std::string& path_;
};

const PeftPattern* first_match(const std::vector<PeftPattern>& patterns, std::string_view module) {
  for (const auto& p : patterns)
    if (std::regex_match(module.begin(), module.end(), p.re)) return &p;
  return nullptr;
}

}  // namespace

PeftConfig::Module PeftConfig::for_module(std::string_view module) const {
  Module m{r, lora_alpha, {}};
  const PeftPattern* rp = first_match(rank_pattern, module);
  const PeftPattern* ap = first_match(alpha_pattern, module);
  if (rp) m.r = static_cast<uint32_t>(rp->value);
  if (ap) m.alpha = ap->value;
  m.why = fmt::format("r {}{}, lora_alpha {}{}{}", m.r, rp ? fmt::format(" (rank_pattern \"{}\")", rp->key) : "",
                      m.alpha, ap ? fmt::format(" (alpha_pattern \"{}\")", ap->key) : "",
                      use_rslora ? ", use_rslora" : "");
  return m;
}

double PeftConfig::scale(const Module& m) const {
  return m.alpha / (use_rslora ? std::sqrt(static_cast<double>(m.r)) : static_cast<double>(m.r));
}

std::string peft_module_name(std::string_view stem) {
  if (stem.starts_with(kPeftStatePrefix)) stem.remove_prefix(kPeftStatePrefix.size());
  return std::string(stem);
}

Result<PeftConfig> parse_peft_config(std::string_view json, const std::string& path) {
  return ConfigParser(path).parse(json);
}

Result<std::optional<PeftConfig>> peft_config_for(const std::string& adapter, bool own_alpha, const Logger& log) {
  namespace fs = std::filesystem;
  const fs::path file(adapter);
  const std::string config = join_path(file.parent_path().string(), kPeftConfigName);
  std::error_code ec;
  const bool present = fs::exists(fs::symlink_status(config, ec)) && !ec;
  if (file.stem() != kPeftAdapterStem) {
    if (present && !own_alpha)
      log.warn(fmt::format("LoRA '{}': '{}' beside it is not used: PEFT pairs it with {}.safetensors, and this file "
                           "has another name (rename it to {}.safetensors to apply its r and lora_alpha)",
                           adapter, config, kPeftAdapterStem, kPeftAdapterStem));
    return std::optional<PeftConfig>{};
  }
  if (!present) {
    log.warn(fmt::format("LoRA '{}': a PEFT adapter without its {} (r, lora_alpha): its strength is unknown; "
                         "applied with alpha = rank (scale = strength) unless it has .alpha tensors",
                         adapter, kPeftConfigName));
    return std::optional<PeftConfig>{};
  }
  auto f = File::open(config);  // refuses FIFOs and other special files without blocking
  if (!f) return f.error();
  if (f->size() > kPeftConfigMaxBytes)
    return Error{config, {}, {}, fmt::format("{} bytes, over the {} byte cap for a PEFT config", f->size(),
                                             kPeftConfigMaxBytes), ErrorCode::kBadFormat};
  std::string json(f->size(), '\0');
  if (Status s = f->read_exact(0, {reinterpret_cast<std::byte*>(json.data()), json.size()}); !s) return s.error();
  auto parsed = parse_peft_config(json, config);
  if (!parsed) return parsed.error();
  return std::optional<PeftConfig>(std::move(parsed.value()));
}

}  // namespace wm
