// Finds the tensors in an unpickled PyTorch checkpoint and names them as a
// state dict does: a training checkpoint's {"state_dict": {...}, "epoch": ..}
// (or "model" / "module") is unwrapped, nested dicts and lists flatten to
// dotted names ("encoder.layers.0.weight"). Values that are not tensors
// (ints, strings, optimizer settings) are skipped and counted.
#pragma once

#include <string>
#include <vector>

#include "common/log.h"
#include "format/pickle_value.h"

namespace wm {

inline constexpr int kStateDictMaxDepth = 64;

struct NamedTensor {
  std::string name;
  PyId tensor = 0;  // a kTensor value
};

// Throws ParseFailure (naming `file`) for a root that is not a dict, nesting
// deeper than kStateDictMaxDepth, or a dict key that is not a str or int.
std::vector<NamedTensor> collect_state_dict(const PickleArena& arena, PyId root, const std::string& file,
                                            const Logger& log);

}  // namespace wm
