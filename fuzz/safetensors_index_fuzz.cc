// libFuzzer target: sharded safetensors index parser on arbitrary text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "format/shard_index.h"
#include "fuzz_invariants.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view json(reinterpret_cast<const char*>(data), size);
  auto index = wm::parse_safetensors_index(json, "fuzz.safetensors.index.json");
  if (index.ok() && !wm::index_invariant_violation(*index).empty()) std::abort();
  return 0;
}
