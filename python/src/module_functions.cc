// The module-level functions: open, page_cache, version.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <weightmap/model.hpp>
#include <weightmap/page_cache.hpp>
#include <weightmap/version.hpp>

#include "errors.h"
#include "module_functions.h"
#include "native_model.h"
#include "options_from_kwargs.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace wmpy {
namespace {

NativeModel open_model(const std::vector<std::string>& paths, const nb::dict& kwargs) {
  if (paths.empty()) throw nb::value_error("weightmap.open(): no path given");
  wm::Options options = options_from_kwargs(kwargs);
  wm::Result<wm::Model> r = [&] {
    nb::gil_scoped_release unlocked;
    return wm::open(paths, options);
  }();
  if (!r) throw_error(r.error());
  auto state = std::make_shared<ModelState>(std::move(r.value()));
  state->log = options.log;
  if (kwargs.contains("log") && !kwargs["log"].is_none()) state->log_object = kwargs["log"].ptr();
  return NativeModel(std::move(state));
}

nb::list page_cache(const std::string& action_name, const std::vector<std::string>& paths) {
  auto action = wm::cache_action_from_name(action_name);
  if (!action)
    throw nb::value_error(("page_cache(): action is '" + action_name + "'; expected 'status', 'evict' or 'warm'")
                              .c_str());
  wm::Result<std::vector<wm::CachedFile>> r = [&] {
    nb::gil_scoped_release unlocked;
    return wm::page_cache(*action, paths);
  }();
  if (!r) throw_error(r.error());
  nb::list out;
  for (const wm::CachedFile& f : *r) {
    nb::dict d;
    d["path"] = f.path;
    d["bytes"] = f.bytes;
    d["resident_bytes"] = f.resident_bytes;
    d["seconds"] = f.seconds;
    out.append(d);
  }
  return out;
}

}  // namespace

void bind_functions(nb::module_& m) {
  m.def("open", &open_model, "paths"_a, "options"_a);
  m.def("page_cache", &page_cache, "action"_a, "paths"_a);
  m.def("version", [] { return std::string(wm::version()); });
}

}  // namespace wmpy
