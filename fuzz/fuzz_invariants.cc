#include "fuzz_invariants.h"

#include <fmt/format.h>

namespace wm {

std::string table_invariant_violation(const TensorTable& table, uint64_t file_size) {
  if (table.files().size() != 1) return "a single-file parser returned several files";
  const FileInfo& f = table.files()[0];
  for (const auto& t : table.tensors()) {
    auto bad = [&](const char* what) { return fmt::format("{} (tensor '{}')", what, t.name); };
    if (t.file != 0) return bad("file index");
    if (t.offset > file_size || t.nbytes > file_size - t.offset) return bad("tensor outside the file");
    if (t.offset < f.data_offset) return bad("tensor before the data section");
    if (f.alignment == 0 || (t.offset - f.data_offset) % f.alignment != 0) return bad("misaligned tensor");
    SizeOrReason size = tensor_nbytes(t.dtype, t.shape);
    if (!size.nbytes || *size.nbytes != t.nbytes) return bad("byte length disagrees with shape");
  }
  return {};
}

std::string index_invariant_violation(const ShardIndex& index) {
  for (const auto& [name, shard] : index.weight_map)
    if (shard >= index.shards.size()) return fmt::format("tensor '{}' points past the shard list", name);
  // No accepted shard name may be absolute or contain a ".." component.
  for (const auto& shard : index.shards) {
    if (shard.empty() || shard.front() == '/') return fmt::format("shard '{}' is empty or absolute", shard);
    std::string_view s = shard;
    while (!s.empty()) {
      size_t slash = s.find('/');
      if (s.substr(0, slash) == "..") return fmt::format("shard '{}' climbs out of its folder", shard);
      s = slash == std::string_view::npos ? std::string_view() : s.substr(slash + 1);
    }
  }
  return {};
}

}  // namespace wm
