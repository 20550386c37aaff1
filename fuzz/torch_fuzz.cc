// libFuzzer target: PyTorch checkpoints (zip or legacy) and the restricted
// unpickler on arbitrary bytes. Whatever the input: no crash, no hang, and
// every accepted tensor lies inside the input and reads back whole.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "format/pickle_machine.h"
#include "format/torch_reader.h"
#include "format/torch_state_dict.h"
#include "load/source_transform.h"

namespace {

void check_table(const wm::TensorTable& table, const wm::ByteSource& src) {
  if (table.files().size() != 1) std::abort();
  for (const auto& t : table.tensors()) {
    wm::SizeOrReason size = wm::tensor_nbytes(t.dtype, t.shape);
    if (!size.nbytes || *size.nbytes != t.nbytes) std::abort();
    if (t.plain_source() && (t.offset > src.size() || t.nbytes > src.size() - t.offset)) std::abort();
    if (t.nbytes > (16u << 20)) continue;  // a claim the input cannot back; reading it would only fail
    std::vector<std::byte> out(t.nbytes);
    (void)wm::read_transformed(src, t, out);  // may fail (bad deflate data), must not crash
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  wm::MemorySource src(bytes, "fuzz.pt");
  auto table = wm::parse_torch(src);
  if (table.ok()) check_table(*table, src);

  // The unpickler alone, as if the input were a data.pkl.
  wm::PickleArena arena;
  auto r = wm::unpickle(bytes, arena, "fuzz.pkl");
  if (r.ok()) {
    if (r->consumed == 0 || r->consumed > size) std::abort();
    try {
      wm::collect_state_dict(arena, r->root, "fuzz.pkl", {});
    } catch (const wm::ParseFailure&) {
    }
  }
  return 0;
}
