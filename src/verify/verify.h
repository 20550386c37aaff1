// `weightmap verify`: does every loaded tensor hold what its file says?
// Tensors loaded in their file's dtype: xxh3 of the bytes as loaded (mapped,
// host copy or device buffer) vs xxh3 of the bytes read straight from the
// file with pread (PyTorch views and deflated entries: gathered / inflated
// first). Converted tensors: every value vs a reference conversion
// of the file's bytes done here, independently, in double. A mismatch is a
// verdict in the report (naming the tensor), not an error; errors are
// failures to read.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "load/loaded_model.h"

namespace wm {

enum class VerifyCheck : uint8_t {
  kBytes,    // same dtype as the file: byte hashes compared
  kValues,   // converted: values compared with a reference conversion
  kSkipped,  // not comparable with the file (e.g. patched by a LoRA); `detail` says why
};
const char* verify_check_name(VerifyCheck c);

struct TensorVerdict {
  size_t index = 0;  // into LoadedModel::tensors()
  std::string name;
  VerifyCheck check = VerifyCheck::kBytes;
  bool ok = true;
  uint64_t loaded_xxh3 = 0;  // of the bytes as loaded
  uint64_t file_xxh3 = 0;    // of the file's bytes (kBytes), or of the reference conversion (kValues)
  uint64_t bad_values = 0;   // kValues: elements that differ
  std::string detail;        // on a mismatch, the first difference; on a skip, why
};

struct VerifyReport {
  std::vector<TensorVerdict> tensors;  // in LoadedModel::tensors() order
  uint64_t failed = 0;
  uint64_t skipped = 0;
  uint64_t bytes_compared = 0;   // loaded bytes hashed or decoded
  double ms = 0;
  bool ok() const { return failed == 0; }
};

struct VerifyOptions {
  uint64_t chunk_bytes = 8ull << 20;  // tensors are compared in chunks of about this many bytes
  Logger log;
  // Called after each tensor with loaded bytes done so far and the total.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// REQUIRES: `model` is not released or modified during the call.
Result<VerifyReport> verify_model(const LoadedModel& model, const VerifyOptions& options = {});

}  // namespace wm
