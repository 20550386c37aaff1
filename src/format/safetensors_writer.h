// Writes safetensors files (tests, `demo`, conversions), atomically. Tensors
// are laid out contiguously in the order added; the header is padded with
// spaces so the data section starts on an 8-byte boundary, as the reference
// writer does.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "dtype/dtype.h"
#include "format/tensor_data.h"

namespace wm {

class SafetensorsWriter {
 public:
  void add_metadata(std::string key, std::string value);
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
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::vector<Entry> tensors_;
};

}  // namespace wm
