#include "shard/shard_table.h"

#include <fmt/format.h>

#include "shard/shard_rules.h"
#include "shard/slice_geometry.h"

namespace wm {

Result<ShardReport> shard_table(TensorTable& table, const ShardOptions& options) {
  ShardReport report;
  report.rank = options.rank;
  report.world = options.world;
  report.source = options.source;
  report.full_bytes = table.total_tensor_bytes();
  report.bytes = report.full_bytes;
  report.tensors_replicated = table.tensors().size();
  if (options.world == 0 || options.rank >= options.world)
    return Error{{}, {}, {}, fmt::format("shard rank {} of world {}: the rank must be below the world", options.rank,
                                         options.world), ErrorCode::kInvalidArgument};
  if (options.world == 1 && options.rules.empty()) return report;
  auto rules = parse_split_rules(options.rules);
  if (!rules) return rules.error();
  std::vector<std::string> expanded;
  for (const NameRule& r : rules->rules()) expanded.push_back(r.pattern + "=" + r.value);
  report.rules = fmt::format("{}", fmt::join(expanded, ","));
  report.tensors_replicated = 0;
  for (size_t i = 0; i < table.tensors().size(); ++i) {
    const TensorInfo& t = table.tensors()[i];
    const NameRule* rule = rules->match_rule(t.qualified_name());
    SplitHow how = rule ? parse_split_how(rule->value).value() : SplitHow{};  // values checked when parsed
    if (how.dim == SliceDim::kNone || t.shape.empty()) {  // a 0-d tensor has nothing to cut: whole on every rank
      ++report.tensors_replicated;
      continue;
    }
    auto g = slice_geometry(t, how, options.rank, options.world);
    if (!g) {
      Error e = g.error();
      e.file = table.files()[t.file].path;
      e.message += fmt::format(" (rule '{}={}', rank {} of {})", rule->pattern, rule->value, options.rank,
                               options.world);
      return e;
    }
    (how.dim == SliceDim::kRows ? report.tensors_rows : report.tensors_cols) += 1;
    table.set_slice(i, std::move(g.value()));
  }
  report.bytes = table.total_tensor_bytes();
  return report;
}

}  // namespace wm
