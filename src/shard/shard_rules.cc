#include "shard/shard_rules.h"

#include <charconv>
#include <fmt/format.h>

namespace wm {
namespace {

// Megatron-style: the projections into a layer are split by output rows
// (column-parallel), the ones out of it by input columns (row-parallel), so
// each rank's matmuls need no exchange between them; embeddings and the
// output head split the vocabulary, padded as vocabularies rarely divide.
// Everything else (norms) is replicated.
constexpr std::string_view kLlama =
    "*.attn_q.weight=rows,*.attn_k.weight=rows,*.attn_v.weight=rows,*.attn_q.bias=rows,*.attn_k.bias=rows,"
    "*.attn_v.bias=rows,*.attn_output.weight=cols,*.ffn_gate.weight=rows,*.ffn_up.weight=rows,"
    "*.ffn_down.weight=cols,token_embd.weight=rows:pad,output.weight=rows:pad,"
    "*.q_proj.weight=rows,*.k_proj.weight=rows,*.v_proj.weight=rows,*.q_proj.bias=rows,*.k_proj.bias=rows,"
    "*.v_proj.bias=rows,*.o_proj.weight=cols,*.gate_proj.weight=rows,*.up_proj.weight=rows,"
    "*.down_proj.weight=cols,*embed_tokens.weight=rows:pad,lm_head.weight=rows:pad";
// Attention only: diffusers' feed-forward input is GEGLU in many models
// (both halves in one matrix), which a plain row split would tear apart.
constexpr std::string_view kDiffusion =
    "*.to_q.weight=rows,*.to_k.weight=rows,*.to_v.weight=rows,*.to_q.bias=rows,*.to_k.bias=rows,"
    "*.to_v.bias=rows,*.to_out.0.weight=cols";

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::string_view> split_preset(std::string_view name) {
  if (name == "llama") return kLlama;
  if (name == "diffusion") return kDiffusion;
  return std::nullopt;
}

Result<SplitHow> parse_split_how(std::string_view value) {
  auto bad = [&](std::string_view why) {
    return Error{{}, {}, {}, fmt::format("split '{}': {} (rows, cols, rows:pad, cols:pad, rows[A:B], cols[A:B] or "
                                         "replicate)", value, why), ErrorCode::kInvalidArgument};
  };
  SplitHow how;
  if (value == "replicate") return how;
  std::string_view rest = value;
  if (rest.starts_with("rows")) how.dim = SliceDim::kRows;
  else if (rest.starts_with("cols")) how.dim = SliceDim::kCols;
  else return bad("unknown split");
  rest.remove_prefix(4);
  if (rest == ":pad") {
    how.pad = true;
  } else if (rest.starts_with('[')) {
    size_t colon = rest.find(':'), close = rest.find(']');
    if (colon == std::string_view::npos || close != rest.size() - 1 || colon > close) return bad("range must be [A:B]");
    auto a = parse_u64(rest.substr(1, colon - 1)), b = parse_u64(rest.substr(colon + 1, close - colon - 1));
    if (!a || !b || *a >= *b) return bad("range must be [A:B] with A < B");
    how.range.emplace(*a, *b);
  } else if (!rest.empty()) {
    return bad("unknown suffix");
  }
  return how;
}

Result<NameRules> parse_split_rules(std::string_view text) {
  std::string expanded;
  for (std::string_view item : rule_items(text)) {  // presets replaced before the rules are parsed
    if (!expanded.empty()) expanded += ',';
    if (auto preset = split_preset(item)) expanded += *preset;
    else if (item.find('=') == std::string_view::npos)
      return Error{{}, {}, {}, fmt::format("split rule '{}' is neither PATTERN=HOW nor a preset (llama, diffusion)",
                                           item), ErrorCode::kInvalidArgument};
    else expanded += item;
  }
  auto rules = NameRules::parse(expanded);
  if (!rules) return rules.error();
  for (const NameRule& r : rules->rules())
    if (auto how = parse_split_how(r.value); !how) {
      Error e = how.error();
      e.message = fmt::format("rule '{}={}': {}", r.pattern, r.value, e.message);
      return e;
    }
  return rules;
}

}  // namespace wm

namespace wm {

const char* slice_dim_name(SliceDim d) {
  switch (d) {
    case SliceDim::kNone: return "whole";
    case SliceDim::kRows: return "rows";
    case SliceDim::kCols: return "cols";
  }
  return "?";
}

}  // namespace wm
