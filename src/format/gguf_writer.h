// Writes GGUF v2/v3 files (tests, `demo`, conversions), atomically: the file
// appears complete under its name or not at all. The header is built from
// the tensors' dtypes and shapes alone, so their bytes can stream in after it.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "dtype/dtype.h"
#include "format/metadata.h"
#include "format/tensor_data.h"
#include "format/tensor_stream_writer.h"

namespace wm {

class GgufWriter {
 public:
  // A non-default alignment is written as general.alignment (u32).
  explicit GgufWriter(uint32_t version = 3, uint32_t alignment = 32);

  void add_metadata(std::string key, MetaValue value);
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
  uint32_t version_;
  uint32_t alignment_;
  Metadata metadata_;
  std::vector<Entry> tensors_;
};

}  // namespace wm
