// A LoRA file (safetensors, GGUF or a PyTorch checkpoint) read through the
// model parsers: its tensor names, any tensor's values as F32 (LoRA factors
// are small, so they are read with pread rather than mapped), its alphas,
// and the PEFT adapter_config.json that comes with it.
//
// Thread-safe: immutable after open.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "format/tensor_table.h"
#include "io/file.h"
#include "lora/peft_config.h"

namespace wm {

class LoraFile {
 public:
  static Result<LoraFile> open(const std::string& path, const Logger& log = {});

  const std::string& path() const { return file_.path(); }
  std::vector<std::string> tensor_names() const;
  // REQUIRES: `name` is one of tensor_names().
  const TensorInfo& tensor(const std::string& name) const { return *table_.find(name); }
  // Every element of a tensor converted to F32 (PyTorch views gathered,
  // deflated entries inflated, as the loader reads them); fails (naming
  // file, tensor and offset) on a dtype with no F32 conversion or an I/O error.
  Result<std::vector<float>> read_f32(const TensorInfo& t) const;
  // A one-element tensor of any number type, exactly: kohya and other
  // trainers write ".alpha" as F32, F16, BF16 or an integer scalar. Fails
  // (naming file, tensor and offset) on more than one element, a type that
  // is not a number, or a value that is not finite.
  Result<double> read_alpha(const TensorInfo& t) const;
  // GGUF adapters (llama.cpp) store one alpha for all tensors as metadata
  // "adapter.lora.alpha"; per-tensor ".alpha" tensors take precedence.
  std::optional<float> file_alpha() const { return file_alpha_; }
  // PEFT's adapter_config.json, when this is a PEFT adapter_model.* beside one.
  const std::optional<PeftConfig>& peft_config() const { return peft_; }

 private:
  LoraFile(TensorTable table, File file, std::optional<float> alpha, std::optional<PeftConfig> peft)
      : table_(std::move(table)), file_(std::move(file)), file_alpha_(alpha), peft_(std::move(peft)) {}
  Result<std::vector<std::byte>> read_bytes(const TensorInfo& t) const;

  TensorTable table_;
  File file_;
  std::optional<float> file_alpha_;
  std::optional<PeftConfig> peft_;
};

}  // namespace wm
