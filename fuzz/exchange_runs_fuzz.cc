// libFuzzer target: decode_runs, which reads the byte runs another rank
// sends in the exchange mode (exchange/needed_runs.h). Input: one byte for
// the number of files, then little-endian 64-bit words. Invariants: a
// decoded run never overflows; the pieces for_each_piece gives for a
// window lie inside it, ascending within each run, and add up to
// bytes_within; a malformed input is an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "exchange/needed_runs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t files = data[0] % 8;
  std::vector<uint64_t> words((size - 1) / 8);
  if (!words.empty()) std::memcpy(words.data(), data + 1, words.size() * 8);
  auto runs = wm::decode_runs(words, files);
  if (!runs) return 0;
  if (runs->size() != files) std::abort();
  for (const wm::FileRuns& f : *runs) {
    for (const wm::ByteRun& r : f) {
      if (r.end() < r.offset) std::abort();  // decode let an overflow through
      // Windows of at most 64 KiB around the run's start and end.
      const uint64_t probes[] = {r.offset, r.end()};
      for (uint64_t at : probes) {
        const uint64_t begin = at > 32768 ? at - 32768 : 0, end = at + 32768 < at ? UINT64_MAX : at + 32768;
        uint64_t sum = 0, last = 0;
        bool first = true;
        wm::for_each_piece(wm::FileRuns{r}, begin, end, [&](uint64_t off, uint64_t len) {
          if (len == 0 || off < begin || off + len > end || (!first && off < last)) std::abort();
          first = false;
          last = off + len;
          sum += len;
        });
        if (sum != wm::bytes_within(wm::FileRuns{r}, begin, end) || sum > end - begin) std::abort();
      }
    }
  }
  return 0;
}
