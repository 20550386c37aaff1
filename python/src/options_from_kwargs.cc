// The keyword options of weightmap.open(), one parser per wm::Options field.
#include "options_from_kwargs.h"

#include "py_collective.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nanobind/stl/string.h>

namespace nb = nanobind;

namespace wmpy {
namespace {

[[noreturn]] void wrong_type(const std::string& key, const char* wanted, nb::handle value) {
  throw nb::type_error(("weightmap.open(): option '" + key + "' must be " + wanted + ", not " +
                        nb::cast<std::string>(nb::str(nb::handle(reinterpret_cast<PyObject*>(Py_TYPE(value.ptr()))).attr("__name__"))))
                           .c_str());
}

bool as_bool(const std::string& key, nb::handle v) {
  if (!nb::isinstance<nb::bool_>(v)) wrong_type(key, "a bool", v);
  return nb::cast<bool>(v);
}

std::string as_str(const std::string& key, nb::handle v) {
  if (!nb::isinstance<nb::str>(v)) wrong_type(key, "a str", v);
  return nb::cast<std::string>(v);
}

// A non-negative int (bools refused: threads=True is a mistake).
uint64_t as_count(const std::string& key, nb::handle v) {
  if (!nb::isinstance<nb::int_>(v) || nb::isinstance<nb::bool_>(v)) wrong_type(key, "an int", v);
  if (nb::cast<nb::int_>(v) < nb::int_(0))
    throw nb::value_error(("weightmap.open(): option '" + key + "' must not be negative").c_str());
  return nb::cast<uint64_t>(v);
}

unsigned as_positive(const std::string& key, nb::handle v) {
  uint64_t n = as_count(key, v);
  if (n == 0 || n > 4096)
    throw nb::value_error(("weightmap.open(): option '" + key + "' must be between 1 and 4096").c_str());
  return static_cast<unsigned>(n);
}

template <class Enum>
Enum as_mode(const std::string& key, nb::handle v, std::optional<Enum> (*from_name)(std::string_view),
             const char* choices) {
  std::string name = as_str(key, v);
  auto m = from_name(name);
  if (!m)
    throw nb::value_error(("weightmap.open(): option '" + key + "' is '" + name + "'; expected one of " + choices)
                              .c_str());
  return *m;
}

// shard=(rank, world): two non-negative ints, world >= 1, rank < world; None: (0, 1).
void set_shard(wm::Options& o, const std::string& key, nb::handle v) {
  o.shard.rank = 0;
  o.shard.world = 1;
  if (v.is_none()) return;
  if (!(nb::isinstance<nb::tuple>(v) || nb::isinstance<nb::list>(v)) || nb::len(v) != 2)
    wrong_type(key, "a (rank, world) pair of ints", v);
  const uint64_t rank = as_count(key, v[0]), world = as_count(key, v[1]);
  if (world == 0 || world > UINT32_MAX)
    throw nb::value_error(("weightmap.open(): option '" + key + "': world " + std::to_string(world) +
                           " must be between 1 and " + std::to_string(UINT32_MAX)).c_str());
  if (rank >= world)
    throw nb::value_error(("weightmap.open(): option '" + key + "': rank " + std::to_string(rank) +
                           " must be below the world " + std::to_string(world)).c_str());
  o.shard.rank = static_cast<uint32_t>(rank);
  o.shard.world = static_cast<uint32_t>(world);
}

using Setter = std::function<void(wm::Options&, const std::string&, nb::handle)>;

const std::map<std::string, Setter, std::less<>>& setters() {
  static const std::map<std::string, Setter, std::less<>> table = {
      {"variant", [](wm::Options& o, const std::string& k, nb::handle v) { o.variant = as_str(k, v); }},
      {"components",
       [](wm::Options& o, const std::string& k, nb::handle v) {
         o.components.clear();
         if (v.is_none()) return;
         if (nb::isinstance<nb::str>(v) || !nb::hasattr(v, "__iter__")) wrong_type(k, "a list of str", v);
         for (nb::handle c : v) o.components.push_back(as_str(k, c));
       }},
      {"use_mmap", [](wm::Options& o, const std::string& k, nb::handle v) { o.use_mmap = as_bool(k, v); }},
      {"device_rules", [](wm::Options& o, const std::string& k, nb::handle v) { o.device_rules = as_str(k, v); }},
      {"type_rules", [](wm::Options& o, const std::string& k, nb::handle v) { o.type_rules = as_str(k, v); }},
      {"offload_to_cpu", [](wm::Options& o, const std::string& k, nb::handle v) { o.offload_to_cpu = as_bool(k, v); }},
      {"threads", [](wm::Options& o, const std::string& k, nb::handle v) { o.threads = as_positive(k, v); }},
      {"staging_bytes", [](wm::Options& o, const std::string& k, nb::handle v) { o.staging_bytes = as_count(k, v); }},
      {"hints", [](wm::Options& o, const std::string& k, nb::handle v) { o.hints = as_str(k, v); }},
      {"prefetch",
       [](wm::Options& o, const std::string& k, nb::handle v) {
         o.prefetch = as_mode(k, v, wm::prefetch_mode_from_name, "'background', 'wait', 'none'");
       }},
      {"prefetch_workers",
       [](wm::Options& o, const std::string& k, nb::handle v) { o.prefetch_workers = as_positive(k, v); }},
      {"io",
       [](wm::Options& o, const std::string& k, nb::handle v) {
         o.io = as_mode(k, v, wm::io_mode_from_name, "'read', 'direct', 'uring'");
       }},
      {"cache_window_bytes",
       [](wm::Options& o, const std::string& k, nb::handle v) { o.cache_window_bytes = as_count(k, v); }},
      {"max_memory_bytes",
       [](wm::Options& o, const std::string& k, nb::handle v) { o.max_memory_bytes = as_count(k, v); }},
      {"lock_files", [](wm::Options& o, const std::string& k, nb::handle v) { o.lock_files = as_bool(k, v); }},
      {"mlock", [](wm::Options& o, const std::string& k, nb::handle v) { o.mlock = as_bool(k, v); }},
      {"loras",
       [](wm::Options& o, const std::string& k, nb::handle v) {
         o.loras.clear();
         if (v.is_none()) return;
         for (nb::handle item : v) {
           auto pair = nb::cast<nb::tuple>(item);
           o.loras.push_back(wm::LoraSpec{as_str(k, pair[0]), nb::cast<float>(pair[1])});
         }
       }},
      {"lora_mode",
       [](wm::Options& o, const std::string& k, nb::handle v) {
         o.lora.mode = as_mode(k, v, wm::lora_mode_from_name, "'auto', 'immediately', 'at_runtime'");
       }},
      {"shard", set_shard},
      {"shard_mode",
       [](wm::Options& o, const std::string& k, nb::handle v) {
         o.shard.mode = as_mode(k, v, wm::shard_mode_from_name, "'auto', 'shared', 'exchange'");
       }},
      {"staging_dir", [](wm::Options& o, const std::string& k, nb::handle v) { o.shard.staging_dir = as_str(k, v); }},
      {"exchange_round_bytes",
       [](wm::Options& o, const std::string& k, nb::handle v) { o.shard.exchange_round_bytes = as_count(k, v); }},
      {"collective", [](wm::Options&, const std::string&, nb::handle) {}},  // after the loop: it needs shard=
      {"split",
       [](wm::Options& o, const std::string& k, nb::handle v) { o.shard.rules = v.is_none() ? "" : as_str(k, v); }},
      {"metadata_arrays",
       [](wm::Options& o, const std::string& k, nb::handle v) { o.metadata_arrays = as_bool(k, v); }},
      {"log",
       [](wm::Options& o, const std::string& k, nb::handle v) {
         if (v.is_none()) return;
         if (!PyCallable_Check(v.ptr())) wrong_type(k, "a callable(level, message)", v);
         o.log = log_callback(nb::borrow(v));
         o.lora.log = wm::Logger(o.log);
       }},
  };
  return table;
}

// Holds the callable; dropped (possibly on a loader thread) with the GIL.
struct PyCallable {
  nb::object fn;
  ~PyCallable() {
    if (!Py_IsInitialized()) {
      (void)fn.release();  // the interpreter is gone: leak rather than touch it
      return;
    }
    nb::gil_scoped_acquire gil;
    fn.reset();
  }
};

}  // namespace

wm::LogCallback log_callback(nb::object fn) {
  auto holder = std::make_shared<PyCallable>(PyCallable{std::move(fn)});
  return [holder](wm::LogLevel level, std::string_view message) {
    if (!Py_IsInitialized()) return;
    nb::gil_scoped_acquire gil;
    try {
      holder->fn(nb::str(wm::to_string(level)), nb::str(message.data(), message.size()));
    } catch (nb::python_error& e) {
      e.discard_as_unraisable("weightmap log callback");
    }
  };
}

wm::Options options_from_kwargs(const nb::dict& kwargs) {
  wm::Options options;
  for (auto [key, value] : kwargs) {
    std::string name = nb::cast<std::string>(key);
    auto it = setters().find(name);
    if (it == setters().end())
      throw nb::type_error(("weightmap.open() got an unexpected keyword argument '" + name + "'").c_str());
    it->second(options, name, value);
  }
  if (kwargs.contains("collective") && !kwargs["collective"].is_none()) {
    nb::object comm = nb::borrow(kwargs["collective"]);
    if (!nb::hasattr(comm, "allgather") || !nb::hasattr(comm, "alltoall"))
      wrong_type("collective", "a communicator with allgather() and alltoall() (mpi4py's, or one like it)", comm);
    options.shard.collective = py_collective(std::move(comm), options.shard.rank, options.shard.world);
  }
  return options;
}

}  // namespace wmpy
