// Names of the enums weightmap/options.hpp declares, both ways: the one
// place the CLI, the environment and the load report spell them. (In load/,
// not api/, because the loader reports them by name.)
#include "weightmap/options.hpp"

namespace wm {

const char* prefetch_mode_name(PrefetchMode m) {
  switch (m) {
    case PrefetchMode::kBackground: return "background";
    case PrefetchMode::kWait: return "wait";
    case PrefetchMode::kNone: return "none";
  }
  return "?";
}

std::optional<PrefetchMode> prefetch_mode_from_name(std::string_view name) {
  for (PrefetchMode m : {PrefetchMode::kBackground, PrefetchMode::kWait, PrefetchMode::kNone})
    if (name == prefetch_mode_name(m)) return m;
  return std::nullopt;
}

const char* io_mode_name(IoMode m) {
  switch (m) {
    case IoMode::kRead: return "read";
    case IoMode::kDirect: return "direct";
    case IoMode::kUring: return "uring";
  }
  return "?";
}

std::optional<IoMode> io_mode_from_name(std::string_view name) {
  // "pread" and "io_uring" are accepted as the system calls' own names.
  if (name == "read" || name == "pread") return IoMode::kRead;
  if (name == "direct") return IoMode::kDirect;
  if (name == "uring" || name == "io_uring") return IoMode::kUring;
  return std::nullopt;
}

const char* shard_mode_name(ShardMode m) {
  switch (m) {
    case ShardMode::kAuto: return "auto";
    case ShardMode::kShared: return "shared";
    case ShardMode::kExchange: return "exchange";
  }
  return "?";
}

std::optional<ShardMode> shard_mode_from_name(std::string_view name) {
  for (ShardMode m : {ShardMode::kAuto, ShardMode::kShared, ShardMode::kExchange})
    if (name == shard_mode_name(m)) return m;
  return std::nullopt;
}

}  // namespace wm
