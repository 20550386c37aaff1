// The native Model's methods. Every method copies the state first (so a
// close() from another thread cannot pull it away), takes the model's lock
// without the GIL, and releases the GIL around anything that may block:
// waiting for a prefetch, converting, downloading, LoRA steps.
#include <cstring>
#include <vector>

#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <weightmap/dtype.hpp>

#include "array_export.h"
#include "errors.h"
#include "lora_report_dict.h"
#include "metadata_dict.h"
#include "native_model.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace wmpy {

std::shared_ptr<ModelState> NativeModel::state() const {
  if (!state_)
    throw_error(wm::Error{{}, {}, {}, "the model is closed (close() was called, or the with block ended)",
                          wm::ErrorCode::kInvalidArgument});
  return state_;
}

namespace {

size_t index_of(ModelState& s, const std::string& name) {
  auto i = s.model().index_of(name);
  if (!i) throw nb::key_error(name.c_str());
  return *i;
}

// Errors about one tensor name it.
wm::Error naming(wm::Error e, const wm::Tensor& t, const wm::Model& m) {
  if (e.tensor.empty()) e.tensor = t.name;
  if (e.file.empty()) e.file = m.file_path(t.file);
  return e;
}

// Waits for a background prefetch of the tensor and checks its file is
// unchanged (GIL released).
void make_readable(const wm::Model& m, size_t index) {
  const wm::Tensor& t = m.tensor(index);
  nb::gil_scoped_release unlocked;
  if (wm::Status s = m.wait_ready(index); !s) throw_error(naming(s.error(), t, m));
  if (wm::Status s = m.check_file(t.file); !s) throw_error(naming(s.error(), t, m));
}

// A tensor that lives only on a device, downloaded (GIL released).
void download(const wm::Model& m, const wm::Tensor& t, std::byte* dst) {
  nb::gil_scoped_release unlocked;
  if (wm::Status s = m.device(t.device).download(t.device_buffer, 0, dst, t.nbytes); !s)
    throw_error(naming(s.error(), t, m));
}

nb::object tensor_bytes(const NativeModel& self, const std::string& name) {
  auto s = self.state();
  SharedAccess access(*s);
  const wm::Model& m = s->model();
  size_t i = index_of(*s, name);
  make_readable(m, i);
  const wm::Tensor& t = m.tensor(i);
  if (t.host_data || t.nbytes == 0) return view_tensor_bytes(s, i);
  std::byte* data = nullptr;
  nb::object array = new_byte_array(t.nbytes, &data);
  download(m, t, data);
  return array;
}

uint64_t elements_of(const wm::Tensor& t) {
  uint64_t n = 1;
  for (uint64_t d : t.shape) n *= d;
  return n;
}

// The tensor converted to `to` (a weightmap dtype name) into a new array.
nb::object convert(const NativeModel& self, const std::string& name, const std::string& to_name) {
  auto to = wm::dtype_from_name(to_name);
  if (!to) throw nb::value_error(("unknown weightmap dtype '" + to_name + "'").c_str());
  auto s = self.state();
  SharedAccess access(*s);
  const wm::Model& m = s->model();
  size_t i = index_of(*s, name);
  make_readable(m, i);
  const wm::Tensor& t = m.tensor(i);
  if (!wm::dtype_can_convert(t.dtype, *to))
    throw_error(naming(wm::Error{{}, {}, {},
                                 std::string("cannot convert ") + wm::dtype_name(t.dtype) + " to " +
                                     wm::dtype_name(*to) + " (see dtype_can_convert)",
                                 wm::ErrorCode::kUnsupported},
                       t, m));
  uint64_t elements = elements_of(t);
  uint64_t out_bytes = elements / wm::dtype_block_elems(*to) * wm::dtype_block_bytes(*to);
  std::byte* dst = nullptr;
  nb::object array = new_byte_array(out_bytes, &dst);
  std::vector<std::byte> downloaded;
  const std::byte* src = t.host_data;
  if (!src && t.nbytes) {
    downloaded.resize(t.nbytes);
    download(m, t, downloaded.data());
    src = downloaded.data();
  }
  if (elements == 0) return array;
  nb::gil_scoped_release unlocked;
  if (wm::Status st = wm::dtype_convert(t.dtype, *to, src, elements, dst); !st)
    throw_error(naming(st.error(), t, m));
  return array;
}

nb::dict info(const NativeModel& self, const std::string& name) {
  auto s = self.state();
  SharedAccess access(*s);
  const wm::Model& m = s->model();
  const wm::Tensor& t = m.tensor(index_of(*s, name));
  nb::list shape;
  for (uint64_t d : t.shape) shape.append(d);
  nb::dict d;
  d["name"] = t.name;
  d["dtype"] = wm::dtype_name(t.dtype);
  d["shape"] = nb::tuple(shape);
  d["nbytes"] = t.nbytes;
  d["placement"] = wm::placement_name(t.placement);
  d["reason"] = t.reason;
  d["device"] = m.devices()[t.device].name;
  d["on_device"] = t.on_device;
  d["host"] = t.host_data != nullptr || t.nbytes == 0;
  d["host_resident"] = t.host_resident;
  d["file"] = m.file_path(t.file);
  d["file_offset"] = t.file_offset;
  d["generation"] = t.generation;
  d["block_elems"] = wm::dtype_block_elems(t.dtype);
  d["block_bytes"] = wm::dtype_block_bytes(t.dtype);
  // Options::shard: which part of the file's tensor this is ("whole" when not sliced).
  nb::list full_shape;
  for (uint64_t n : t.slice.dim == wm::SliceDim::kNone ? t.shape : t.slice.full_shape) full_shape.append(n);
  d["slice_dim"] = wm::slice_dim_name(t.slice.dim);
  d["slice_start"] = t.slice.start;
  d["slice_count"] = t.slice.count;
  d["slice_padded"] = t.slice.padded;
  d["full_shape"] = nb::tuple(full_shape);
  return d;
}

std::vector<std::string> keys(const NativeModel& self) {
  auto s = self.state();
  SharedAccess access(*s);
  std::vector<std::string> out;
  for (const wm::Tensor& t : s->model().tensors()) out.push_back(t.name);
  return out;
}

nb::dict apply_loras(const NativeModel& self, const std::vector<std::pair<std::string, float>>& loras,
                     const std::string& mode_name) {
  auto mode = wm::lora_mode_from_name(mode_name);
  if (!mode)
    throw nb::value_error(("apply_lora(): mode is '" + mode_name + "'; expected 'auto', 'immediately' or "
                           "'at_runtime'").c_str());
  std::vector<wm::LoraSpec> specs;
  for (const auto& [path, strength] : loras) specs.push_back(wm::LoraSpec{path, strength});
  auto s = self.state();
  ExclusiveAccess access(*s);
  if (std::string busy = s->live_arrays_message(); !busy.empty()) throw_busy("apply_lora(): " + busy);
  wm::LoraOptions options;
  options.mode = *mode;
  options.log = wm::Logger(s->log);
  wm::Result<wm::LoraReport> r = [&] {
    nb::gil_scoped_release unlocked;
    return s->model().apply_loras(specs, options);
  }();
  if (!r) throw_error(r.error());
  return lora_report_dict(s->model(), *r);
}

std::vector<std::string> remove_loras(const NativeModel& self) {
  auto s = self.state();
  ExclusiveAccess access(*s);
  if (std::string busy = s->live_arrays_message(); !busy.empty()) throw_busy("remove_loras(): " + busy);
  wm::Result<std::vector<size_t>> r = [&] {
    nb::gil_scoped_release unlocked;
    return s->model().remove_loras();
  }();
  if (!r) throw_error(r.error());
  std::vector<std::string> names;
  for (size_t i : *r) names.push_back(s->model().tensor(i).name);
  return names;
}

// The cyclic GC's view: a log callback that refers back to its Model (a
// bound method, a closure over module globals) makes a cycle through C++.
int traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));
  if (!nb::inst_ready(self)) return 0;
  PyObject* log = nb::inst_ptr<NativeModel>(self)->sole_log_object();
  Py_VISIT(log);
  return 0;
}

int clear(PyObject* self) {
  if (nb::inst_ready(self)) nb::inst_ptr<NativeModel>(self)->close();
  return 0;
}

PyType_Slot gc_slots[] = {{Py_tp_traverse, reinterpret_cast<void*>(traverse)},
                          {Py_tp_clear, reinterpret_cast<void*>(clear)},
                          {0, nullptr}};

}  // namespace

void bind_model(nb::module_& m) {
  nb::class_<NativeModel>(m, "Model", "A loaded model (use weightmap.open / weightmap.Model)", nb::type_slots(gc_slots))
      .def("keys", &keys)
      .def("__len__", [](const NativeModel& self) {
        auto s = self.state();
        SharedAccess access(*s);
        return s->model().size();
      })
      .def("__contains__", [](const NativeModel& self, const std::string& name) {
        auto s = self.state();
        SharedAccess access(*s);
        return s->model().index_of(name).has_value();
      })
      .def("tensor_bytes", &tensor_bytes, "name"_a)
      .def("convert", &convert, "name"_a, "dtype"_a)
      .def("info", &info, "name"_a)
      .def("metadata", [](const NativeModel& self) {
        auto s = self.state();
        SharedAccess access(*s);
        return metadata_dict(s->model());
      })
      .def("report_json", [](const NativeModel& self) {
        auto s = self.state();
        SharedAccess access(*s);
        return s->model().report_json(true);
      })
      .def("files", [](const NativeModel& self) {
        auto s = self.state();
        std::vector<std::string> out;
        for (size_t f = 0; f < s->model().file_count(); ++f) out.push_back(s->model().file_path(f));
        return out;
      })
      .def("check_files", [](const NativeModel& self) {
        auto s = self.state();
        nb::gil_scoped_release unlocked;
        check(s->model().check_files());
      })
      .def("apply_loras", &apply_loras, "loras"_a, "mode"_a)
      .def("remove_loras", &remove_loras)
      .def("live_arrays", [](const NativeModel& self) { return self.state()->live_arrays(); })
      .def("generation", [](const NativeModel& self) { return self.state()->model().generation(); })
      .def("close", &NativeModel::close)
      .def_prop_ro("closed", &NativeModel::closed);
}

}  // namespace wmpy
