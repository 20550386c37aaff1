// What parsing produces: the files of a model and every tensor in them
// (name, dtype, shape, file, absolute offset, byte length). Nothing here has
// read tensor data; every offset and size has been checked against its file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/error.h"
#include "dtype/dtype.h"
#include "format/metadata.h"
#include "io/file.h"
#include "weightmap/tensor.hpp"

namespace wm {

enum class FileFormat { kGguf, kSafetensors, kTorch, kTorchLegacy };
const char* format_name(FileFormat f);

struct FileInfo {
  std::string path;
  FileFormat format = FileFormat::kGguf;
  uint64_t size = 0;          // bytes, as seen when parsed
  uint64_t data_offset = 0;   // first byte of the tensor data section
  uint32_t alignment = 1;     // promised alignment of tensor offsets within the data section
  uint32_t version = 0;       // GGUF version; 0 for safetensors
  std::string component;      // diffusers component ("transformer", ...), or empty
  Metadata metadata;
  // Size, mtime, inode and device when parsed from a file (all zero when
  // parsed from memory, see ByteSource::identity): the loader refuses a file
  // that changed since.
  FileIdentity identity;
  // The file as the parser opened it, kept open so the loader maps and
  // reads that same file (no second open); null when parsed from memory.
  std::shared_ptr<const File> opened;
};

// A tensor whose bytes are a view into a larger storage, or lie in a
// deflate-compressed zip entry (PyTorch checkpoints). Read it through
// TensorSource (load/tensor_source.h), as every tensor.
struct SourceLayout {
  // Element strides, outermost first, of a non-contiguous view; empty when
  // the tensor is row-major contiguous.
  std::vector<uint64_t> strides;
  // Deflated storage: TensorInfo::offset is where the compressed bytes start,
  // `compressed_bytes` their length, `inflated_bytes` the storage's size, and
  // `first_byte` where the tensor's first element lies in the inflated storage.
  bool deflated = false;
  uint64_t compressed_bytes = 0;
  uint64_t inflated_bytes = 0;
  uint64_t first_byte = 0;
  uint32_t crc32 = 0;   // of the inflated storage: checked whenever it is inflated
  std::string entry;    // the zip entry's name, for errors
  // A tensor-parallel slice that is not one byte range (a column slice, or
  // one padded with zeros): the tensor is rows of `out_row_bytes`; row r <
  // `src_rows` begins with `row_bytes` file bytes at TensorInfo::offset +
  // r * `row_stride`, and the rest of it, like every later row, is zeros.
  // Read in any whole blocks (chunked like a plain range), never mapped.
  struct Gather {
    uint64_t src_rows = 0, row_bytes = 0, row_stride = 0, out_row_bytes = 0;
  };
  std::optional<Gather> gather;

  // PyTorch views and deflated entries are read whole; gathered slices in chunks.
  bool whole_only() const { return !strides.empty() || deflated; }
};

struct TensorInfo {
  std::string name;                // as stored in the file
  std::string component;           // component the tensor belongs to, or empty
  DType dtype = DType::F32;
  std::vector<uint64_t> shape;     // outermost dimension first (row-major)
  uint32_t file = 0;               // index into TensorTable::files()
  uint64_t offset = 0;             // absolute byte offset of the first byte in its file
  uint64_t nbytes = 0;
  // How the bytes lie when they are not simply `nbytes` contiguous bytes at
  // `offset` (PyTorch checkpoints only); such a tensor is never mapped.
  SourceLayout source;
  // With Options::shard: which part of the file's tensor this is (shape,
  // offset and nbytes are already the slice's).
  TensorSlice slice;

  bool plain_source() const { return source.strides.empty() && !source.deflated && !source.gather; }

  // "component.name" when the tensor belongs to a component, else the name:
  // the name rules and lookups use.
  std::string qualified_name() const {
    return component.empty() ? name : component + "." + name;
  }
};

// Owns the files and tensors of a model and an index of the tensors by
// qualified name. Invariant: find() answers from the tensors as they are now.
// The vectors are private and every change goes through a method below that
// keeps the index true, so no caller can leave it stale. A duplicate name is
// kept (find() answers the first) and reported by check_unique_names().
class TensorTable {
 public:
  const std::vector<FileInfo>& files() const { return files_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  // Adds a file; returns its index, for TensorInfo::file.
  uint32_t add_file(FileInfo file);
  // Adds a tensor of a file already added (throws std::out_of_range
  // otherwise: a programming error, not bad input) and indexes its name.
  void add_tensor(TensorInfo tensor);
  void reserve_tensors(size_t n) { tensors_.reserve(n); }

  // Appends another table's files and tensors (file indices are rebased)
  // and indexes their names.
  void append(TensorTable other);

  // Puts every file and tensor in a diffusers component ("transformer", ...),
  // which changes their qualified names: re-indexes.
  void set_component(const std::string& component);

  // Makes tensor i a slice of itself (Options::shard). The name stays, so
  // the index stays true.
  struct SliceGeometry {
    std::vector<uint64_t> shape;
    uint64_t offset = 0, nbytes = 0;
    std::optional<SourceLayout::Gather> gather;
    TensorSlice slice;
  };
  void set_slice(size_t i, SliceGeometry g);

  // The index keys on tensors only (a tensor keeps its own component), so
  // files may be edited in place.
  FileInfo& mutable_file(size_t index) { return files_.at(index); }

  // Fails naming the first tensor whose qualified name an earlier one has.
  Status check_unique_names() const;
  // The tensor with this qualified name ("component.name" or "name"), or null.
  const TensorInfo* find(std::string_view qualified_name) const;

  uint64_t total_tensor_bytes() const;

 private:
  void index(size_t i);
  void reindex();

  std::vector<FileInfo> files_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> by_name_;
  // The first repeated name: (index of its first tensor, index of the repeat).
  std::optional<std::pair<size_t, size_t>> duplicate_;
};

}  // namespace wm
