// LoRA: what to apply, the low-rank factors kept for run time, and what was
// done per tensor. Applied through Model::apply_loras (or Options::loras).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weightmap/error.hpp"
#include "weightmap/export.hpp"
#include "weightmap/log.hpp"
#include "weightmap/report.hpp"

namespace wm {

// immediately: W += scale * up @ down now (copy-on-write where mapped).
// at_runtime: W untouched; the engine adds scale * up (down x) per use.
// auto: at_runtime for quantised bases, immediately otherwise.
enum class LoraApplyMode : uint8_t { kAuto, kImmediately, kAtRuntime };
WM_API const char* lora_mode_name(LoraApplyMode m);
WM_API std::optional<LoraApplyMode> lora_mode_from_name(std::string_view name);

struct LoraSpec {
  std::string path;
  float strength = 1.0f;
};
// "FILE" or "FILE:STRENGTH" (the last ':' counts only when a number follows).
WM_API Result<LoraSpec> parse_lora_spec(std::string_view text);

// LoRA name prefix -> base name prefix, e.g. "lora_unet_" -> "model.diffusion_model.".
struct LoraPrefixRule {
  std::string from, to;
};
// "FROM=TO".
WM_API Result<LoraPrefixRule> parse_lora_prefix_rule(std::string_view text);

struct LoraOptions {
  LoraApplyMode mode = LoraApplyMode::kAuto;
  // Tried before the built-in rules (kohya, diffusers, PEFT spellings).
  std::vector<LoraPrefixRule> prefixes;
  Logger log;
};

// One LoRA's low-rank update of one 2-D (or flattened conv) weight of
// `rows` x `cols`: delta = scale * up @ down.
struct LoraTerm {
  std::string source;       // LoRA file
  float scale = 1.0f;       // strength * alpha / rank
  uint32_t rank = 0;
  uint64_t rows = 0;        // base output dimension (shape[0])
  uint64_t cols = 0;        // product of the base's other dimensions
  std::vector<float> down;  // rank x cols, row-major
  std::vector<float> up;    // rows x rank, row-major
};

// The run-time side (at_runtime tensors, Model::lora_terms): after the
// engine computes y = W x for such a tensor, y += scale * up (down x) for
// each term, in F32. Fails (kInvalidArgument) when a term's cols != x_size
// or rows != y_size, leaving y untouched.
WM_API Status add_lora_terms(const std::vector<LoraTerm>& terms, const float* x, size_t x_size, float* y,
                             size_t y_size);

enum class LoraAction : uint8_t { kPatched, kAtRuntime };
WM_API const char* lora_action_name(LoraAction a);

struct LoraTensorReport {
  size_t tensor = 0;         // index into Model::tensors()
  std::string name;
  LoraAction action = LoraAction::kPatched;
  std::string why;           // how the mode was chosen / which path patched it
  uint32_t terms = 0;        // LoRAs stacked on this tensor
  uint64_t cow_bytes = 0;    // bytes remapped private-writable (copy-on-write)
  // The scale applied by each stacked LoRA, in the order given: strength x
  // alpha / r (alpha / sqrt(r) for rsLoRA), alpha and r as resolved for this
  // tensor (an .alpha tensor, PEFT's adapter_config.json, the GGUF adapter's
  // alpha, else the rank).
  std::vector<float> scales;
};

// A LoRA tensor that changed nothing, and why (never dropped silently).
struct UnmatchedLora {
  std::string file;
  std::string tensor;
  std::string reason;
};

struct LoraReport {
  std::vector<LoraTensorReport> tensors;
  std::vector<UnmatchedLora> unmatched;
  uint64_t tensors_patched = 0;
  uint64_t tensors_at_runtime = 0;
  uint64_t cow_bytes = 0;
  // Tensors whose host_data moved (a mapped tensor now reads a private
  // copy-on-write range, or reads the mapping again): an engine that kept
  // the pointer must re-point these. Indices into Model::tensors(), sorted.
  // Includes the tensors a previous LoRA moved and this call moved back.
  std::vector<size_t> moved;
  // Tensors whose bytes changed in place (host copies, device buffers):
  // same pointer, new values. Sorted.
  std::vector<size_t> changed_in_place;
  // This process's memory just before and after the LoRA step.
  ProcessMemory memory_before, memory_after;
};

}  // namespace wm
