// A LoRA file (safetensors or GGUF) read through the model parsers: its
// tensor names, and any tensor's values as F32 (LoRA factors are small, so
// they are read with pread rather than mapped).
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

namespace wm {

class LoraFile {
 public:
  static Result<LoraFile> open(const std::string& path, const Logger& log = {});

  const std::string& path() const { return file_.path(); }
  std::vector<std::string> tensor_names() const;
  // REQUIRES: `name` is one of tensor_names().
  const TensorInfo& tensor(const std::string& name) const { return *table_.find(name); }
  // Every element of a tensor converted to F32; fails (naming file, tensor
  // and offset) on a dtype with no F32 conversion or an I/O error.
  Result<std::vector<float>> read_f32(const TensorInfo& t) const;
  // GGUF adapters (llama.cpp) store one alpha for all tensors as metadata
  // "adapter.lora.alpha"; per-tensor ".alpha" tensors take precedence.
  std::optional<float> file_alpha() const { return file_alpha_; }

 private:
  LoraFile(TensorTable table, File file, std::optional<float> alpha)
      : table_(std::move(table)), file_(std::move(file)), file_alpha_(alpha) {}
  TensorTable table_;
  File file_;
  std::optional<float> file_alpha_;
};

}  // namespace wm
