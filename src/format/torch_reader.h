// PyTorch checkpoints (.ckpt, .pt, .pth, .bin) -> TensorTable, without
// executing anything: the pickle is run by a restricted unpickler
// (pickle_machine.h) that only builds values.
//  - zip format (torch.save default since 1.6): <archive>/data.pkl names
//    storages by key; each lives in the entry <archive>/data/<key>. A
//    contiguous tensor in a stored entry is addressed by its absolute byte
//    offset in the archive, so it can be mapped in place; views that are not
//    contiguous, and tensors in deflated entries, carry a SourceLayout and
//    are read through load/source_transform.h.
//  - legacy format (_use_new_zipfile_serialization=False): magic number,
//    protocol version and system info pickles, the data pickle, the list of
//    storage keys, then each storage as an 8-byte element count and its raw
//    bytes.
// Several tensors may share one storage; the no-overlap check of the other
// formats does not apply here.
#pragma once

#include <cstddef>
#include <span>

#include "common/log.h"
#include "format/byte_source.h"
#include "format/tensor_table.h"

namespace wm {

inline constexpr uint64_t kTorchMaxPickle = 1ull << 30;  // bytes of data.pkl / legacy pickles

// True when the first bytes look like a zip archive or a legacy checkpoint
// (its magic-number pickle). `head` needs at least 16 bytes to tell.
bool looks_like_torch(std::span<const std::byte> head);

// Returns a table with one file (index 0) and its tensors.
Result<TensorTable> parse_torch(const ByteSource& src, const Logger& log = {});

}  // namespace wm
