// Writes GGUF v2/v3 files (tests, `demo`, conversions), atomically: the file
// appears complete under its name or not at all.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "dtype/dtype.h"
#include "format/metadata.h"
#include "format/tensor_data.h"

namespace wm {

class GgufWriter {
 public:
  // A non-default alignment is written as general.alignment (u32).
  explicit GgufWriter(uint32_t version = 3, uint32_t alignment = 32);

  void add_metadata(std::string key, MetaValue value);
  // `shape` outermost first; the byte length follows from dtype and shape.
  void add_tensor(std::string name, DType dtype, std::vector<uint64_t> shape, TensorData data);

  Status write(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<uint64_t> shape;
    TensorData data;
  };
  uint32_t version_;
  uint32_t alignment_;
  Metadata metadata_;
  std::vector<Entry> tensors_;
};

}  // namespace wm
