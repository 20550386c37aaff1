#include "exchange/rank_agreement.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

namespace wm {
namespace {

// One rank's word: ok, or failed with the start of its error text.
struct Word {
  uint32_t failed = 0;
  uint32_t code = 0;
  char text[504] = {};
};

}  // namespace

Status agree_ranks(Collective& c, const Status& mine) {
  Word w;
  if (!mine.ok()) {
    w.failed = 1;
    w.code = static_cast<uint32_t>(mine.error().code);
    const std::string text = mine.error().to_string();
    std::memcpy(w.text, text.data(), std::min(text.size(), sizeof w.text - 1));
  }
  std::vector<Word> all(c.world());
  if (Status s = c.allgather(&w, sizeof w, all.data()); !s) return s;
  if (!mine.ok()) return mine;
  for (uint32_t r = 0; r < all.size(); ++r) {
    if (!all[r].failed) continue;
    all[r].text[sizeof all[r].text - 1] = '\0';
    return Error{{}, {}, {}, fmt::format("rank {} of {} failed: {}", r, c.world(), all[r].text),
                 static_cast<ErrorCode>(all[r].code)};
  }
  return {};
}

Result<std::vector<std::vector<std::byte>>> allgather_blobs(Collective& c, std::span<const std::byte> mine) {
  const uint64_t size = mine.size();
  std::vector<uint64_t> sizes(c.world());
  if (Status s = c.allgather(&size, sizeof size, sizes.data()); !s) return s.error();
  const uint64_t most = *std::max_element(sizes.begin(), sizes.end());
  std::vector<std::byte> padded(most), all(most * c.world());
  std::copy(mine.begin(), mine.end(), padded.begin());
  if (Status s = c.allgather(padded.data(), most, all.data()); !s) return s.error();
  std::vector<std::vector<std::byte>> out(c.world());
  for (uint32_t r = 0; r < c.world(); ++r)
    out[r].assign(all.begin() + static_cast<ptrdiff_t>(r * most),
                  all.begin() + static_cast<ptrdiff_t>(r * most + sizes[r]));
  return out;
}

}  // namespace wm
