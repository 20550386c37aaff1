// A restricted unpickler: runs the opcodes of one pickle (protocols 2-5)
// to STOP and builds its value in a PickleArena, allowing only what a
// PyTorch state dict needs. Any other opcode or global is an error naming it
// and its byte offset; REDUCE calls nothing, it builds a value for one of
// the allowed callables. Depth, memo, lengths and counts are bounded by the
// limits and the input's size, so hostile input costs at most memory
// proportional to its length.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/error.h"
#include "format/pickle_value.h"

namespace wm {

struct PickleLimits {
  uint32_t max_marks = 1000;       // open MARKs at once
  uint32_t max_stack = 1u << 22;   // values on the stack
  uint32_t max_dims = 32;          // tensor dimensions
};

struct PickleResult {
  PyId root = 0;
  uint64_t consumed = 0;  // bytes up to and including STOP
};

// Unpickles `bytes` (which begin at byte `base` of `file`, for error
// offsets) into `arena`. Stops at the first STOP; bytes after it are left
// for the caller (legacy checkpoints hold several pickles in a row).
// Errors are "pickle opcode X at byte N: ..." with file and offset set;
// `ran_out`, when given, is set when the failure was the input ending early.
Result<PickleResult> unpickle(std::span<const std::byte> bytes, PickleArena& arena, const std::string& file,
                              uint64_t base = 0, const PickleLimits& limits = {}, bool* ran_out = nullptr);

// "module.name" of every global the unpickler accepts, for messages.
std::string allowed_globals_text();

}  // namespace wm
