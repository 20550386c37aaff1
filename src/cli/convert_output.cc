#include "cli/convert_output.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/output_units.h"
#include "common/json_writer.h"

namespace wm::cli {

std::string convert_text(const ConvertReport& r) {
  std::string out;
  size_t converted = 0;
  for (const auto& t : r.tensors) {
    converted += t.from != t.to;
    out += fmt::format("{:<48} {:>8} -> {:<8} [{}] {:.2f} MiB", t.name, dtype_name(t.from), dtype_name(t.to),
                       fmt::join(t.shape, ", "), mib(t.bytes_out));
    if (r.files.size() > 1) out += fmt::format("  (shard {})", t.file + 1);
    out += "\n";
  }
  for (const auto& line : r.not_kept) out += fmt::format("not kept: {}\n", line);
  out += fmt::format("converted {} tensors ({} changed dtype), {:.1f} MiB -> {:.1f} MiB, {} metadata keys kept, in {:.0f} ms "
                     "(staging {:.1f} MiB)\n",
                     r.tensors.size(), converted, mib(r.bytes_in), mib(r.bytes_out), r.metadata_kept, r.ms,
                     mib(r.staging_bytes));
  out += fmt::format("wrote {}: {}{}\n", convert_format_name(r.format), fmt::join(r.files, ", "),
                     r.index.empty() ? "" : fmt::format(" and index {}", r.index));
  return out;
}

std::string convert_json(const ConvertReport& r) {
  JsonWriter j;
  j.begin_object();
  j.key("ok").value(true);
  j.key("format").value(convert_format_name(r.format));
  j.key("files").begin_array();
  for (const auto& f : r.files) j.value(f);
  j.end_array();
  if (r.index.empty()) j.key("index").null();
  else j.key("index").value(r.index);
  j.key("tensors").value(static_cast<uint64_t>(r.tensors.size()));
  j.key("bytes_in").value(r.bytes_in);
  j.key("bytes_out").value(r.bytes_out);
  j.key("staging_bytes").value(r.staging_bytes);
  j.key("ms").value(r.ms);
  j.key("metadata_kept").value(static_cast<uint64_t>(r.metadata_kept));
  j.key("not_kept").begin_array();
  for (const auto& line : r.not_kept) j.value(line);
  j.end_array();
  j.key("per_tensor").begin_array();
  for (const auto& t : r.tensors) {
    j.begin_object();
    j.key("name").value(t.name);
    j.key("from").value(dtype_name(t.from));
    j.key("to").value(dtype_name(t.to));
    j.key("shape").begin_array();
    for (uint64_t d : t.shape) j.value(d);
    j.end_array();
    j.key("bytes_in").value(t.bytes_in);
    j.key("bytes_out").value(t.bytes_out);
    j.key("file").value(t.file);
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.str() + "\n";
}

std::string convert_error_json(const Error& e) {
  JsonWriter j;
  j.begin_object();
  j.key("ok").value(false);
  j.key("error").value(e.to_string());
  j.end_object();
  return j.str() + "\n";
}

}  // namespace wm::cli
