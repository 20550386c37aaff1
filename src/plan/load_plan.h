// The decision for every tensor of a model, made before any I/O: which
// device it goes to, in which dtype, and how it gets there (Map, Copy or
// Convert), with the reason whenever it is not simply mapped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "device/device_caps.h"
#include "format/tensor_table.h"
#include "plan/name_rules.h"
#include "weightmap/tensor.hpp"

namespace wm {


struct TensorPlan {
  uint32_t device = 0;          // index into LoadPlan::devices
  Placement placement = Placement::kMap;
  DType dtype = DType::F32;     // dtype the engine gets
  uint64_t nbytes = 0;          // bytes in that dtype
  // Offloaded: assigned to a device that cannot read host memory, kept in
  // host memory (mapped when possible) for the engine to fetch at use time.
  bool host_resident = false;
  std::string reason;           // why not mapped; empty when mapped
};

struct LoadPlan {
  std::vector<DeviceCaps> devices;
  std::vector<TensorPlan> tensors;  // parallel to TensorTable::tensors
  std::vector<bool> map_file;       // per file of the table: mapped or not
  uint64_t bytes_mapped = 0;        // source bytes of mapped tensors
  uint64_t bytes_copied = 0;        // source bytes of copied tensors
  uint64_t bytes_converted = 0;     // source bytes of converted tensors
  // Device and type rules that decided no tensor (matched none, or only
  // tensors an earlier rule took): the loader warns about each.
  std::vector<std::string> unused_rules;
};

struct PlanOptions {
  bool use_mmap = true;
  NameRules device_rules;  // qualified name -> device name; unmatched go to devices[0]
  NameRules type_rules;    // qualified name -> dtype name; unmatched keep their dtype
  bool offload_to_cpu = false;
  // Per file, why it cannot be mapped (empty = it can). Empty vector = all can.
  std::vector<std::string> unmappable;
};

// Pure: no I/O, no globals. `devices` must not be empty.
Result<LoadPlan> make_plan(const TensorTable& table, const std::vector<DeviceCaps>& devices,
                           const PlanOptions& options);

}  // namespace wm
