// libFuzzer target: GGUF header parser on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "format/gguf_reader.h"
#include "fuzz_invariants.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wm::MemorySource src({reinterpret_cast<const std::byte*>(data), size}, "fuzz.gguf");
  auto table = wm::parse_gguf(src);
  if (table.ok() && !wm::table_invariant_violation(*table, size).empty()) std::abort();
  // Summary mode (array items skipped) must accept exactly what full mode does
  // (they differ only past 4M metadata values, far beyond -max_len).
  auto summary = wm::parse_gguf(src, {false});
  if (summary.ok() != table.ok()) std::abort();
  return 0;
}
