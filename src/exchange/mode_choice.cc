#include "exchange/mode_choice.h"

#include <cstring>
#include <fmt/format.h>
#include <set>
#include <vector>

#include "io/staged_copy.h"

namespace wm {
namespace {

// FNV-1a, 64 bits: enough to tell two models or two sets of files apart.
struct Hash {
  uint64_t h = 1469598103934665603ull;
  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
  void u64(uint64_t v) { bytes(&v, sizeof v); }
  void str(const std::string& s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
};

struct RankWord {
  uint64_t signature = 0;
  uint64_t files = 0;  // hash of the host identity and every file's device, inode, size and mtime
  char host[112] = {};
};

}  // namespace

uint64_t model_signature(const TensorTable& table) {
  Hash h;
  for (const FileInfo& f : table.files()) {
    h.u64(f.size);
    h.u64(f.data_offset);
  }
  for (const TensorInfo& t : table.tensors()) {
    h.str(t.qualified_name());
    h.u64(static_cast<uint64_t>(t.dtype));
    h.u64(t.file);
    h.u64(t.offset);
    h.u64(t.nbytes);
    for (uint64_t d : t.shape) h.u64(d);
  }
  return h.h;
}

Result<ModeChoice> choose_mode(Collective& c, const TensorTable& table, uint64_t signature, ShardMode asked) {
  RankWord w;
  w.signature = signature;
  const std::string host = host_identity();
  std::memcpy(w.host, host.data(), std::min(host.size(), sizeof w.host - 1));
  Hash files;
  files.str(host);
  for (const FileInfo& f : table.files()) {
    files.u64(f.identity.device);
    files.u64(f.identity.inode);
    files.u64(f.identity.size);
    files.u64(static_cast<uint64_t>(f.identity.mtime_ns));
  }
  w.files = files.h;
  std::vector<RankWord> all(c.world());
  if (Status s = c.allgather(&w, sizeof w, all.data()); !s) return s.error();
  for (uint32_t r = 1; r < all.size(); ++r)
    if (all[r].signature != all[0].signature)
      return Error{table.files().empty() ? std::string() : table.files()[0].path, {}, {},
                   fmt::format("rank {}'s model differs from rank 0's (file sizes, tensor names, types, shapes or "
                               "offsets): every rank must load the same model",
                               r),
                   ErrorCode::kInvalidArgument};
  std::set<std::string> hosts;
  std::set<uint64_t> copies;
  for (RankWord& r : all) {
    r.host[sizeof r.host - 1] = '\0';
    hosts.insert(r.host);
    copies.insert(r.files);
  }
  const uint32_t n = c.world();
  if (asked == ShardMode::kShared) return ModeChoice{asked, "asked for (--shard-mode shared)"};
  if (asked == ShardMode::kExchange) return ModeChoice{asked, "asked for (--shard-mode exchange)"};
  if (copies.size() == 1)
    return ModeChoice{ShardMode::kShared,
                      fmt::format("all {} ranks map the same files on one host ({}): one page cache, so each "
                                  "rank touches only its slices and the files are read once",
                                  n, all[0].host)};
  return ModeChoice{ShardMode::kExchange,
                    fmt::format("the {} ranks see {} copies of the files on {} host{}: each reads 1/{} and they "
                                "exchange",
                                n, copies.size(), hosts.size(), hosts.size() == 1 ? "" : "s", n)};
}

}  // namespace wm
