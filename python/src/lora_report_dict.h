// wm::LoraReport as the dict apply_lora() returns.
#pragma once

#include <nanobind/nanobind.h>

#include <weightmap/lora.hpp>
#include <weightmap/model.hpp>

namespace wmpy {

// {"tensors_patched", "tensors_at_runtime", "cow_bytes", "moved": [names],
//  "changed_in_place": [names], "tensors": [{name, action, why, terms, scales}],
//  "unmatched": [{file, tensor, reason}]}
nanobind::dict lora_report_dict(const wm::Model& model, const wm::LoraReport& report);

}  // namespace wmpy
