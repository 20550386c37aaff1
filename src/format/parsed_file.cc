#include "format/parsed_file.h"

#include <algorithm>
#include <fmt/format.h>
#include <numeric>

namespace wm {

void check_tensor_ranges(const FileInfo& file, std::vector<TensorInfo>& tensors) {
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
  for (size_t k = 1; k < order.size(); ++k) {
    const TensorInfo& prev = tensors[order[k - 1]];
    const TensorInfo& cur = tensors[order[k]];
    if (cur.nbytes != 0 && prev.offset + prev.nbytes > cur.offset)
      throw ParseFailure{Error{file.path, cur.name, cur.offset,
                               fmt::format("tensor data overlaps tensor '{}' at [{}, {})", prev.name, prev.offset,
                                           prev.offset + prev.nbytes)}};
  }
}

}  // namespace wm
