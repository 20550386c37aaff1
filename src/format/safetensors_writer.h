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
#include "format/tensor_stream_writer.h"

namespace wm {

class SafetensorsWriter {
 public:
  void add_metadata(std::string key, std::string value);
  // `shape` outermost first; the byte length follows from dtype and shape.
  // `data` may be left empty for a tensor whose bytes go through open_stream().
  void add_tensor(std::string name, DType dtype, std::vector<uint64_t> shape, TensorData data = {});

  // Writes every tensor's data (each must have been given).
  Status write(const std::string& path) const;
  // Writes the header only; the caller appends each tensor's bytes in the
  // order added, then commits.
  Result<TensorStreamWriter> open_stream(const std::string& path) const;
  // The header and sizes open_stream() would write, checked (dtypes the
  // format has, shapes, names), without creating a file.
  Result<TensorFileLayout> layout(const std::string& path) const;

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
