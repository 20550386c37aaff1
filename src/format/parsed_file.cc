#include "format/parsed_file.h"

#include <algorithm>
#include <fmt/format.h>
#include <numeric>

namespace wm {

Result<TensorTable> keep_file_open(Result<TensorTable> parsed, File file) {
  if (!parsed) return with_code(parsed.error(), ErrorCode::kBadFormat);
  auto opened = std::make_shared<const File>(std::move(file));
  for (size_t f = 0; f < parsed->files().size(); ++f) parsed->mutable_file(f).opened = opened;
  return parsed;
}

void check_tensor_ranges(const FileInfo& file, const std::vector<TensorInfo>& tensors) {
  for (const auto& t : tensors) {
    if (t.offset > file.size || t.nbytes > file.size - t.offset)
      throw ParseFailure{Error{file.path, t.name, t.offset,
                               fmt::format("tensor data [{}, +{}) runs past the end of the file ({} bytes)",
                                           t.offset, t.nbytes, file.size)}};
  }
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return tensors[a].offset != tensors[b].offset ? tensors[a].offset < tensors[b].offset
                                                  : tensors[a].nbytes < tensors[b].nbytes;
  });
  // Compare each tensor with the furthest end seen so far, not just its
  // neighbour: an empty tensor between two overlapping ones must not hide them.
  const TensorInfo* furthest = nullptr;
  for (size_t k : order) {
    const TensorInfo& cur = tensors[k];
    if (cur.nbytes == 0) continue;
    if (furthest && furthest->offset + furthest->nbytes > cur.offset)
      throw ParseFailure{Error{file.path, cur.name, cur.offset,
                               fmt::format("tensor data overlaps tensor '{}' at [{}, {})", furthest->name,
                                           furthest->offset, furthest->offset + furthest->nbytes)}};
    if (!furthest || cur.offset + cur.nbytes > furthest->offset + furthest->nbytes) furthest = &cur;
  }
}

}  // namespace wm
