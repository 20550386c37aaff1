// Which file metadata a conversion keeps: GGUF key/values go to GGUF as
// they are; safetensors `__metadata__` strings go to either format as
// strings; GGUF strings go to safetensors, other GGUF values cannot (its
// metadata is a string map), and each thing not kept is named.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "convert/convert_model.h"
#include "format/metadata.h"
#include "format/tensor_table.h"

namespace wm {

struct CarriedMetadata {
  Metadata gguf;                                             // for a GGUF target
  std::vector<std::pair<std::string, std::string>> strings;  // for a safetensors target
  std::vector<std::string> not_kept;                         // one line each
  size_t kept() const { return gguf.size() + strings.size(); }
};

// Every input file's metadata, merged (a key seen twice keeps its first
// value; a different second value is reported as not kept).
CarriedMetadata carry_metadata(const std::vector<FileInfo>& files, ConvertFormat target);

}  // namespace wm
