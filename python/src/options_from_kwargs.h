// weightmap.open()'s keyword options -> wm::Options. Names match the
// wm::Options fields (but shard=(rank, world) and split="rules" for
// wm::Options::shard); an unknown name raises TypeError, a value of the
// wrong type TypeError, a bad value (an unknown mode, a negative size, a
// rank not below the world) ValueError.
#pragma once

#include <nanobind/nanobind.h>

#include <weightmap/options.hpp>

namespace wmpy {

// `loras` arrives normalised by weightmap._model: a list of (str path, float strength).
wm::Options options_from_kwargs(const nanobind::dict& kwargs);

// A Python callable(level: str, message: str) as a wm::LogCallback: called
// from any loader thread, it takes the GIL; an exception it raises is
// reported as unraisable (the load goes on).
wm::LogCallback log_callback(nanobind::object fn);

}  // namespace wmpy
