#include "exchange/needed_runs.h"

#include <algorithm>
#include <fmt/format.h>

#include "dtype/dtype.h"
#include "format/view_geometry.h"

namespace wm {

// What a tensor's bytes in the file are: a column slice's rows, a plain
// range, a deflated entry's compressed bytes, or a view's reach.
ByteRun tensor_run(const TensorInfo& t) {
  const SourceLayout& s = t.source;
  if (s.gather) return {t.offset, s.gather->src_rows, s.gather->row_bytes, s.gather->row_stride};
  if (s.deflated) return {t.offset, 1, s.compressed_bytes, s.compressed_bytes};
  if (!s.strides.empty()) {
    // A PyTorch view: its storage from the first element to the last it reads.
    for (uint64_t d : t.shape)
      if (d == 0) return {};
    auto g = view_geometry(t.shape, s.strides, 0);
    if (!g) return {};  // the parser refused overflowing views already
    const uint64_t bytes = (g->last_element + 1) * dtype_info(t.dtype).block_bytes;
    return {t.offset, 1, bytes, bytes};
  }
  return {t.offset, 1, t.nbytes, t.nbytes};
}

std::vector<FileRuns> needed_runs(const TensorTable& table) {
  std::vector<FileRuns> out(table.files().size());
  for (const TensorInfo& t : table.tensors()) {
    ByteRun r = tensor_run(t);
    if (r.count == 0 || r.len == 0) continue;
    if (r.count == 1) r.stride = r.len;
    out[t.file].push_back(r);
  }
  for (FileRuns& f : out) std::sort(f.begin(), f.end());
  return out;
}

uint64_t bytes_within(const FileRuns& runs, uint64_t begin, uint64_t end) {
  uint64_t n = 0;
  for_each_piece(runs, begin, end, [&](uint64_t, uint64_t len) { n += len; });
  return n;
}

std::vector<uint64_t> encode_runs(const std::vector<FileRuns>& runs) {
  std::vector<uint64_t> w;
  for (const FileRuns& f : runs) {
    w.push_back(f.size());
    for (const ByteRun& r : f) w.insert(w.end(), {r.offset, r.count, r.len, r.stride});
  }
  return w;
}

Result<std::vector<FileRuns>> decode_runs(std::span<const uint64_t> words, size_t files) {
  std::vector<FileRuns> out(files);
  size_t at = 0;
  for (size_t f = 0; f < files; ++f) {
    if (at >= words.size()) return Error{{}, {}, {}, fmt::format("byte runs end before file {} of {}", f, files)};
    const uint64_t n = words[at++];
    if (n > (words.size() - at) / 4)
      return Error{{}, {}, {}, fmt::format("byte runs of file {}: {} runs in {} words", f, n, words.size() - at)};
    for (uint64_t i = 0; i < n; ++i, at += 4) {
      ByteRun r{words[at], words[at + 1], words[at + 2], words[at + 3]};
      // end() must not overflow: offset + (count - 1) * stride + len.
      if (r.count == 0 || r.len == 0 || r.len > UINT64_MAX - r.offset || (r.count > 1 && r.stride < r.len) ||
          (r.count > 1 && r.stride > (UINT64_MAX - r.offset - r.len) / (r.count - 1)))
        return Error{{}, {}, {}, fmt::format("byte run {} of file {} is malformed", i, f)};
      out[f].push_back(r);
    }
  }
  if (at != words.size()) return Error{{}, {}, {}, "byte runs: words left over"};
  return out;
}

}  // namespace wm
