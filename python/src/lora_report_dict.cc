// Indices become names: Python code keys tensors by name.
#include "lora_report_dict.h"

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

namespace nb = nanobind;

namespace wmpy {
namespace {

nb::list names_of(const wm::Model& model, const std::vector<size_t>& indices) {
  nb::list out;
  for (size_t i : indices) out.append(model.tensor(i).name);
  return out;
}

}  // namespace

nb::dict lora_report_dict(const wm::Model& model, const wm::LoraReport& report) {
  nb::dict d;
  d["tensors_patched"] = report.tensors_patched;
  d["tensors_at_runtime"] = report.tensors_at_runtime;
  d["cow_bytes"] = report.cow_bytes;
  d["moved"] = names_of(model, report.moved);
  d["changed_in_place"] = names_of(model, report.changed_in_place);
  nb::list tensors;
  for (const wm::LoraTensorReport& t : report.tensors) {
    nb::dict e;
    e["name"] = t.name;
    e["action"] = wm::lora_action_name(t.action);
    e["why"] = t.why;
    e["terms"] = t.terms;
    e["cow_bytes"] = t.cow_bytes;
    e["scales"] = nb::cast(t.scales);
    tensors.append(e);
  }
  d["tensors"] = tensors;
  nb::list unmatched;
  for (const wm::UnmatchedLora& u : report.unmatched) {
    nb::dict e;
    e["file"] = u.file;
    e["tensor"] = u.tensor;
    e["reason"] = u.reason;
    unmatched.append(e);
  }
  d["unmatched"] = unmatched;
  return d;
}

}  // namespace wmpy
