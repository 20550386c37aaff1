#include <fmt/format.h>

#include "dtype/convert.h"
#include "plan/load_plan.h"

namespace wm {

const char* placement_name(Placement p) {
  switch (p) {
    case Placement::kMap: return "map";
    case Placement::kCopy: return "copy";
    case Placement::kConvert: return "convert";
  }
  return "?";
}

namespace {

Error unknown_device(const NameRule& rule, const std::vector<DeviceCaps>& devices) {
  std::string known;
  for (const DeviceCaps& d : devices) known += (known.empty() ? "" : ", ") + d.name;
  return Error{{}, {}, {},
               fmt::format("device rule '{}={}' names unknown device '{}' (devices: {})", rule.pattern, rule.value,
                           rule.value, known),
               ErrorCode::kInvalidArgument};
}

Error unknown_dtype(const NameRule& rule) {
  return Error{{}, {}, {},
               fmt::format("type rule '{}={}' names unknown dtype '{}'", rule.pattern, rule.value, rule.value),
               ErrorCode::kInvalidArgument};
}

// The tensor a bad rule was found on, when one matched it.
Error on_tensor(Error e, const TensorInfo& t) {
  e.tensor = t.name;
  e.offset = t.offset;
  return e;
}

Result<uint32_t> pick_device(const TensorInfo& t, const std::string& qname, const std::vector<DeviceCaps>& devices,
                             const PlanOptions& options) {
  const NameRule* rule = options.device_rules.match_rule(qname);
  if (!rule) return 0u;
  for (uint32_t d = 0; d < devices.size(); ++d)
    if (devices[d].name == rule->value) return d;
  return on_tensor(unknown_device(*rule, devices), t);
}

Result<DType> pick_dtype(const TensorInfo& t, const std::string& qname, const DeviceCaps& device,
                         const PlanOptions& options) {
  const NameRule* rule = options.type_rules.match_rule(qname);
  if (rule) {
    auto dtype = dtype_from_name(rule->value);
    if (!dtype) return on_tensor(unknown_dtype(*rule), t);
    // A catch-all rule ("--type F16") converts what can be converted and
    // leaves the rest (integer tensors, say); a rule naming tensors must apply.
    if (rule->pattern != "*" || can_convert(t.dtype, *dtype)) {
      if (!device.accepts(*dtype))
        return Error{{}, t.name, t.offset, fmt::format("device {} does not take {}", device.name, dtype_name(*dtype))};
      return *dtype;
    }
  }
  if (!device.accepts(t.dtype))
    return Error{{}, t.name, t.offset,
                 fmt::format("device {} does not take {}; add a --type rule", device.name, dtype_name(t.dtype))};
  return t.dtype;
}

// Rules that decide no tensor (they match none, or only tensors an earlier
// rule already took), as "--device 'PATTERN=VALUE'" for the user to see.
std::vector<std::string> unused_rules(const TensorTable& table, const PlanOptions& options) {
  std::vector<std::string> unused;
  for (const auto& [rules, flag] : {std::pair{&options.device_rules, "--device"}, std::pair{&options.type_rules, "--type"}}) {
    std::vector<bool> used(rules->rules().size(), false);
    for (const TensorInfo& t : table.tensors())
      if (const NameRule* r = rules->match_rule(t.qualified_name())) used[static_cast<size_t>(r - rules->rules().data())] = true;
    for (size_t k = 0; k < used.size(); ++k)
      if (!used[k]) unused.push_back(fmt::format("{} '{}={}'", flag, rules->rules()[k].pattern, rules->rules()[k].value));
  }
  return unused;
}

}  // namespace

Result<LoadPlan> make_plan(const TensorTable& table, const std::vector<DeviceCaps>& devices,
                           const PlanOptions& options) {
  if (devices.empty()) return Error{{}, {}, {}, "no devices to plan for"};
  LoadPlan plan;
  plan.devices = devices;
  plan.map_file.assign(table.files().size(), false);
  plan.tensors.reserve(table.tensors().size());
  const DeviceCaps host = cpu_device_caps();
  for (const TensorInfo& t : table.tensors()) {
    const std::string qname = t.qualified_name();
    auto fail_with_file = [&](Error e) {
      e.file = table.files()[t.file].path;
      return e;
    };
    auto device = pick_device(t, qname, devices, options);
    if (!device) return fail_with_file(device.error());
    const DeviceCaps& caps = devices[*device];
    auto dtype = pick_dtype(t, qname, caps, options);
    if (!dtype) return fail_with_file(dtype.error());

    TensorPlan p;
    p.device = *device;
    p.dtype = *dtype;
    p.host_resident = !caps.reads_host_memory && options.offload_to_cpu;
    // Where the bytes will be read from: the device itself, or host memory
    // for an offloaded tensor.
    const DeviceCaps& reader = p.host_resident ? host : caps;

    if (*dtype != t.dtype) {
      if (!can_convert(t.dtype, *dtype))
        return fail_with_file(Error{{}, t.name, t.offset,
                                    fmt::format("cannot convert {} to {}", dtype_name(t.dtype), dtype_name(*dtype))});
      SizeOrReason size = tensor_nbytes(*dtype, t.shape);
      if (!size.nbytes) return fail_with_file(Error{{}, t.name, t.offset, size.reason});
      p.placement = Placement::kConvert;
      p.nbytes = *size.nbytes;
      p.reason = fmt::format("{} -> {} requested", dtype_name(t.dtype), dtype_name(*dtype));
      plan.bytes_converted += t.nbytes;
    } else {
      p.nbytes = t.nbytes;
      uint32_t align = reader.required_alignment(t.dtype);
      const std::string* unmappable = t.file < options.unmappable.size() && !options.unmappable[t.file].empty()
                                          ? &options.unmappable[t.file]
                                          : nullptr;
      // A PyTorch view or compressed entry is not the bytes the engine wants.
      if (!t.source.strides.empty()) p.reason = "non-contiguous view: gathered from its storage";
      else if (t.source.deflated) p.reason = "compressed zip entry: inflated";
      else if (t.source.gather && t.slice.padded) p.reason = fmt::format("{} slice padded with zeros: gathered",
                                                                       slice_dim_name(t.slice.dim));
      else if (t.source.gather) p.reason = "column slice: gathered row by row";
      else if (!options.use_mmap) p.reason = "mmap disabled";
      else if (unmappable) p.reason = fmt::format("file not mapped: {}", *unmappable);
      else if (!reader.reads_host_memory) p.reason = fmt::format("device {} cannot read host memory", reader.name);
      else if (t.offset % align != 0)
        p.reason = fmt::format("offset {} is not {}-byte aligned as {} needs for {}", t.offset, align, reader.name,
                               dtype_name(t.dtype));
      p.placement = p.reason.empty() ? Placement::kMap : Placement::kCopy;
      if (p.placement == Placement::kMap) {
        plan.bytes_mapped += t.nbytes;
        plan.map_file[t.file] = true;
      } else {
        plan.bytes_copied += t.nbytes;
      }
    }
    if (p.host_resident)
      p.reason = p.reason.empty() ? fmt::format("offloaded: host-resident for {}", caps.name)
                                  : fmt::format("offloaded: host-resident for {}; {}", caps.name, p.reason);
    plan.tensors.push_back(std::move(p));
  }
  // A rule no tensor matched was not checked above: a name that does not
  // exist is still an error, whether or not the rule matches.
  for (const NameRule& r : options.device_rules.rules()) {
    bool known = false;
    for (const DeviceCaps& d : devices) known = known || d.name == r.value;
    if (!known) return unknown_device(r, devices);
  }
  for (const NameRule& r : options.type_rules.rules())
    if (!dtype_from_name(r.value)) return unknown_dtype(r);
  plan.unused_rules = unused_rules(table, options);
  return plan;
}

}  // namespace wm
