// Writes a tensor file whose header is known up front (GGUF and safetensors
// both know every offset from the shapes and dtypes): the header goes out
// first, then each tensor's bytes in order, chunk by chunk, so no tensor is
// ever held whole. Atomic like AtomicFileWriter: the file appears under its
// name on commit(), complete, or not at all.
//
// Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "format/tensor_data.h"
#include "io/atomic_file.h"

namespace wm {

// What a format's writer decides before any tensor byte is written.
struct TensorFileLayout {
  std::vector<std::byte> header;  // every byte before the first tensor's data, padding included
  std::vector<std::string> names;  // the tensors, in file order
  std::vector<uint64_t> sizes;     // their byte lengths, in file order
  uint64_t alignment = 1;          // each tensor but the last is padded with zeros to a multiple of this
};

class TensorStreamWriter {
 public:
  // Creates the temporary file and writes the header.
  static Result<TensorStreamWriter> create(const std::string& path, TensorFileLayout layout);

  // The next bytes of the current tensor (the first not yet complete).
  // Fails, naming the tensor, when `bytes` would run past its end.
  Status append(std::span<const std::byte> bytes);
  // All `data` bytes of the current tensor, through `chunk` (kept between
  // tensors so a writer holds one chunk).
  Status append(const TensorData& data, std::vector<std::byte>& chunk);
  // Index of the tensor the next append() goes to (names().size() when all are done).
  size_t current() const { return current_; }
  const TensorFileLayout& layout() const { return layout_; }
  const std::string& path() const { return path_; }
  // Fails naming the first incomplete tensor; else renames into place.
  Status commit();

 private:
  TensorStreamWriter(std::string path, TensorFileLayout layout, AtomicFileWriter out);
  Status finish_completed();  // pads after complete tensors and moves on

  std::string path_;
  TensorFileLayout layout_;
  AtomicFileWriter out_;
  size_t current_ = 0;
  uint64_t done_in_current_ = 0;
};

// Writes `data[k]` as tensor k of `w` for every tensor, then commits: the
// whole write of a writer that was given every tensor's data.
Status write_tensors_and_commit(TensorStreamWriter& w, const std::vector<const TensorData*>& data);

}  // namespace wm
