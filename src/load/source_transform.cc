#include "load/source_transform.h"

#include <cstring>
#include <fmt/format.h>

#include "format/view_geometry.h"
#include "format/zip_archive.h"

namespace wm {

void gather_strided(std::span<const std::byte> storage, std::span<const uint64_t> shape,
                    std::span<const uint64_t> strides, uint64_t elem_bytes, std::byte* dst) {
  const size_t dims = shape.size();
  for (uint64_t d : shape)
    if (d == 0) return;
  if (dims == 0) {
    std::memcpy(dst, storage.data(), elem_bytes);
    return;
  }
  const uint64_t inner = shape[dims - 1], inner_stride = strides[dims - 1];
  std::vector<uint64_t> index(dims, 0);  // index[dims - 1] stays 0: the inner loop walks it
  while (true) {
    uint64_t base = 0;
    for (size_t d = 0; d + 1 < dims; ++d) base += index[d] * strides[d];
    const std::byte* from = storage.data() + base * elem_bytes;
    if (inner_stride == 1) {
      std::memcpy(dst, from, inner * elem_bytes);
      dst += inner * elem_bytes;
    } else {
      for (uint64_t i = 0; i < inner; ++i, dst += elem_bytes)
        std::memcpy(dst, from + i * inner_stride * elem_bytes, elem_bytes);
    }
    size_t d = dims - 1;  // odometer over the outer dimensions
    while (d > 0 && ++index[d - 1] == shape[d - 1]) index[--d] = 0;
    if (d == 0) return;
  }
}

Status read_transformed(const ByteSource& src, const TensorInfo& t, std::span<std::byte> dst) {
  auto fail = [&](std::string msg) { return Status(Error{src.name(), t.name, t.offset, std::move(msg)}); };
  auto named = [&](Status s) {
    if (s.ok()) return s;
    Error e = s.error();
    e.tensor = t.name;
    return Status(e);
  };
  if (dst.size() != t.nbytes) return fail(fmt::format("destination holds {} bytes, tensor {}", dst.size(), t.nbytes));
  if (t.nbytes == 0) return {};
  const uint64_t esize = dtype_info(t.dtype).block_bytes;
  if (dtype_info(t.dtype).packing != Packing::kScalar) return fail("views of block-packed dtypes are not supported");
  const SourceLayout& s = t.source;

  // Bytes of the storage the tensor covers, from its first element.
  uint64_t span = t.nbytes;
  if (!s.strides.empty()) {
    if (s.strides.size() != t.shape.size()) return fail("stride and shape ranks differ");
    auto view = view_geometry(t.shape, s.strides, 0);
    if (!view) return fail("size x stride overflows");
    uint64_t last = view->last_element;
    if (__builtin_add_overflow(last, 1, &last) || __builtin_mul_overflow(last, esize, &span))
      return fail("view span overflows");
  }
  std::vector<std::byte> storage;
  std::span<std::byte> into = dst;
  if (!s.strides.empty()) {
    storage.resize(span);
    into = storage;
  }
  if (s.deflated) {
    if (s.first_byte > s.inflated_bytes || span > s.inflated_bytes - s.first_byte)
      return fail(fmt::format("view [{}, +{}) runs past its {} byte storage", s.first_byte, span, s.inflated_bytes));
    if (Status st = inflate_range(src, t.offset, s.compressed_bytes, s.first_byte, into, s.entry, s.crc32); !st)
      return named(st);
  } else {
    if (t.offset > src.size() || span > src.size() - t.offset)
      return fail(fmt::format("view [{}, +{}) runs past the end of the file ({} bytes)", t.offset, span, src.size()));
    if (Status st = src.read(t.offset, into); !st) return named(st);
  }
  if (!s.strides.empty()) gather_strided(storage, t.shape, s.strides, esize, dst.data());
  return {};
}

Status read_transformed(const File& file, const TensorInfo& t, std::span<std::byte> dst) {
  return read_transformed(FileSource(file), t, dst);
}

}  // namespace wm
