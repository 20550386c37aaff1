#include "lora/pair_scale.h"

#include <cmath>
#include <fmt/format.h>

namespace wm {

Result<PairScale> pair_scale(const LoraFile& file, const LoraPair& pair, uint32_t rank, float strength) {
  std::optional<double> tensor_alpha;
  if (pair.alpha) {
    auto a = file.read_alpha(file.tensor(*pair.alpha));
    if (!a) return a.error();
    tensor_alpha = *a;
  }
  PairScale out;
  if (const auto& config = file.peft_config()) {
    const std::string module = peft_module_name(pair.stem);
    PeftConfig::Module m = config->for_module(module);
    if (m.r != rank) {
      const TensorInfo& down = file.tensor(pair.down);
      return Error{file.path(), pair.down, down.offset,
                   fmt::format("'{}' gives module '{}' {}, but its factors have rank {}: the config does not "
                               "describe this adapter", config->path, module, m.why, rank),
                   ErrorCode::kBadFormat};
    }
    if (tensor_alpha && *tensor_alpha != m.alpha) {
      const TensorInfo& a = file.tensor(*pair.alpha);
      return Error{file.path(), a.name, a.offset,
                   fmt::format("alpha tensor holds {} but '{}' gives module '{}' {}: which one applies is ambiguous",
                               *tensor_alpha, config->path, module, m.why),
                   ErrorCode::kBadFormat};
    }
    out.scale = strength * config->scale(m);
    out.why = fmt::format("{} x {} ({})", strength, m.why, config->path);
    return out;
  }
  double alpha = rank;
  std::string from = "alpha = rank: the file stores none";
  if (tensor_alpha) {
    alpha = *tensor_alpha;
    from = fmt::format("tensor '{}'", *pair.alpha);
  } else if (file.file_alpha()) {
    alpha = *file.file_alpha();
    from = "GGUF adapter.lora.alpha";
    if (!std::isfinite(alpha))
      return Error{file.path(), {}, {}, fmt::format("adapter.lora.alpha {} is not a finite number", alpha),
                   ErrorCode::kBadFormat};
  } else {
    out.alpha_from_rank = true;
  }
  out.scale = strength * alpha / rank;
  out.why = fmt::format("{} x alpha {} / r {} ({})", strength, alpha, rank, from);
  return out;
}

}  // namespace wm
