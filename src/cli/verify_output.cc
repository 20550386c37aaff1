#include "cli/verify_output.h"

#include <fmt/format.h>

#include "cli/output_units.h"
#include "common/json_writer.h"

namespace wm::cli {

std::string verify_text(const VerifyReport& r) {
  std::string out;
  for (const auto& v : r.tensors) {
    if (!v.ok) out += fmt::format("MISMATCH {} ({}): {}\n", v.name, verify_check_name(v.check), v.detail);
    else if (v.check == VerifyCheck::kSkipped) out += fmt::format("skipped  {}: {}\n", v.name, v.detail);
  }
  uint64_t bytes = 0, values = 0;
  for (const auto& v : r.tensors) {
    bytes += v.check == VerifyCheck::kBytes;
    values += v.check == VerifyCheck::kValues;
  }
  out += fmt::format("verified {} tensors ({} by bytes, {} converted by values, {} skipped), {:.1f} MiB in {:.0f} ms: {}\n",
                     r.tensors.size(), bytes, values, r.skipped, mib(r.bytes_compared), r.ms,
                     r.ok() ? "all match their files" : fmt::format("{} differ", r.failed));
  return out;
}

std::string verify_json(const VerifyReport& r, const std::string& load_report) {
  JsonWriter j;
  j.begin_object();
  j.key("ok").value(r.ok());
  j.key("tensors").value(static_cast<uint64_t>(r.tensors.size()));
  j.key("failed").value(r.failed);
  j.key("skipped").value(r.skipped);
  j.key("bytes_compared").value(r.bytes_compared);
  j.key("ms").value(r.ms);
  j.key("mismatches").begin_array();
  for (const auto& v : r.tensors)
    if (!v.ok) j.value(v.name);
  j.end_array();
  j.key("per_tensor").begin_array();
  for (const auto& v : r.tensors) {
    j.begin_object();
    j.key("name").value(v.name);
    j.key("check").value(verify_check_name(v.check));
    j.key("ok").value(v.ok);
    j.key("loaded_xxh3").value(hex(v.loaded_xxh3));
    j.key("file_xxh3").value(hex(v.file_xxh3));
    if (v.check == VerifyCheck::kValues) j.key("bad_values").value(v.bad_values);
    if (!v.detail.empty()) j.key("detail").value(v.detail);
    j.end_object();
  }
  j.end_array();
  j.key("load").json(load_report);
  j.end_object();
  return j.str() + "\n";
}

std::string mismatch_names(const VerifyReport& r) {
  std::string names;
  for (const auto& v : r.tensors)
    if (!v.ok) names += (names.empty() ? "" : ", ") + v.name;
  return names;
}

}  // namespace wm::cli
