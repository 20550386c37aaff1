// Opens what a user points at: a GGUF or safetensors file, a sharded
// `*.safetensors.index.json`, a folder holding one model, or a
// diffusers-style folder whose subfolders (`unet/`, `transformer/`,
// `text_encoder/`, `vae/`, ...) become named components.
#pragma once

#include <string>
#include <vector>

#include "common/log.h"
#include "format/tensor_table.h"

namespace wm {

struct OpenOptions {
  Logger log;
  // diffusers weight variant to prefer in folders ("fp16" picks
  // model.fp16.safetensors over model.safetensors); empty = no variant.
  std::string variant;
  // Keep GGUF metadata array items (tokenizer vocabularies). Loading needs
  // none; an engine that reads its tokenizer from the file does.
  bool metadata_arrays = true;
};

// Opens one path. Tensor names stay as in the files; folder components set
// TensorInfo::component / FileInfo::component.
Result<TensorTable> open_model_path(const std::string& path, const OpenOptions& options = {});

// Opens several paths as one table and checks that qualified names are unique.
Result<TensorTable> open_model(const std::vector<std::string>& paths, const OpenOptions& options = {});

}  // namespace wm
