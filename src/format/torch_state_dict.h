// Finds the tensors in an unpickled PyTorch checkpoint and names them as a
// state dict does: nested dicts and lists flatten to dotted names
// ("encoder.layers.0.weight"). Every tensor reachable in the dicts is
// loaded; none is left out without a warning naming it.
//
// A training checkpoint's wrapper ({"state_dict": {...}, "epoch": 3}, or
// "model" / "module") is unwrapped: its entries are named without the
// wrapper's key. "state_dict" is always a wrapper; "model" and "module" are
// also common submodule names (ldm's "model.diffusion_model"), so they are
// unwrapped only when nothing beside them holds weights. Beside an unwrapped
// wrapper, entries that hold tensors are loaded under their own names, and
// training state (optimizer, schedulers, callbacks, ...) is skipped with a
// warning naming each of its tensors. Values that are not tensors (ints,
// strings, settings) are skipped and counted.
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
// deeper than kStateDictMaxDepth, a tensor under a dict key that is not a
// str or int, or two different tensors whose paths flatten to one name.
// Warns (through `log`) about tensors skipped as training state and tensors
// the pickle built that no dict reaches (a replaced key, an object's state).
std::vector<NamedTensor> collect_state_dict(const PickleArena& arena, PyId root, const std::string& file,
                                            const Logger& log);

}  // namespace wm
