#include "cli/inspect_output.h"

#include <algorithm>
#include <fmt/format.h>

#include "common/json_writer.h"
#include "common/size_text.h"

namespace wm::cli {
namespace {

std::string shape_text(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t k = 0; k < shape.size(); ++k) s += fmt::format("{}{}", k ? ", " : "", shape[k]);
  return s + "]";
}

// The largest of 64/32/16 that divides the offset, as inspect prints it.
std::string alignment_text(uint64_t offset) {
  for (uint64_t a : {64, 32, 16})
    if (offset % a == 0) return std::to_string(a);
  return "-";
}

void write_meta_value(JsonWriter& j, const MetaValue& v) {
  switch (v.type) {
    case MetaType::BOOL: j.value(std::get<uint64_t>(v.v) != 0); break;
    case MetaType::U8: case MetaType::U16: case MetaType::U32: case MetaType::U64: j.value(std::get<uint64_t>(v.v)); break;
    case MetaType::I8: case MetaType::I16: case MetaType::I32: case MetaType::I64: j.value(std::get<int64_t>(v.v)); break;
    case MetaType::F32: case MetaType::F64: j.value(std::get<double>(v.v)); break;
    case MetaType::STRING: j.value(std::get<std::string>(v.v)); break;
    case MetaType::ARRAY:
      j.begin_array();
      for (const auto& item : std::get<std::vector<MetaValue>>(v.v)) write_meta_value(j, item);
      j.end_array();
      break;
  }
}

}  // namespace

std::string inspect_text(const TensorTable& table, const InspectOptions& options) {
  std::string out;
  for (size_t fi = 0; fi < table.files().size(); ++fi) {
    const FileInfo& f = table.files()[fi];
    size_t count = 0;
    size_t name_w = 4;
    for (const auto& t : table.tensors())
      if (t.file == fi) ++count, name_w = std::max(name_w, t.name.size());
    out += fmt::format("{}\n  format {}{}  size {} ({} bytes)  alignment {}  data offset {}  tensors {}{}\n", f.path,
                       format_name(f.format), f.version ? fmt::format(" v{}", f.version) : "", human_bytes(f.size),
                       f.size, f.alignment, f.data_offset, count,
                       f.component.empty() ? "" : fmt::format("  component {}", f.component));
    if (options.metadata)
      for (const auto& [k, v] : f.metadata)
        out += fmt::format("  meta {} ({}) = {}\n", k,
                           v.type == MetaType::ARRAY ? fmt::format("array of {}", meta_type_name(v.elem_type))
                                                     : meta_type_name(v.type),
                           meta_to_string(v));
    out += fmt::format("  {:<{}}  {:<7}  {:<18}  {:>12}  {:>12}  {}\n", "name", name_w, "dtype", "shape", "offset",
                       "bytes", "aligned");
    for (const auto& t : table.tensors()) {
      if (t.file != fi) continue;
      out += fmt::format("  {:<{}}  {:<7}  {:<18}  {:>12}  {:>12}  {}\n", t.name, name_w, dtype_name(t.dtype),
                         shape_text(t.shape), t.offset, t.nbytes, alignment_text(t.offset));
    }
  }
  out += fmt::format("{} files, {} tensors, {} of tensor data\n", table.files().size(), table.tensors().size(),
                     human_bytes(table.total_tensor_bytes()));
  return out;
}

std::string inspect_json(const TensorTable& table, const InspectOptions& options) {
  JsonWriter j;
  j.begin_object();
  j.key("files").begin_array();
  for (const auto& f : table.files()) {
    j.begin_object();
    j.key("path").value(f.path);
    j.key("format").value(format_name(f.format));
    j.key("size").value(f.size);
    j.key("alignment").value(f.alignment);
    j.key("data_offset").value(f.data_offset);
    if (f.version) j.key("version").value(f.version);
    j.key("component").value(f.component);
    if (options.metadata) {
      j.key("metadata").begin_object();
      for (const auto& [k, v] : f.metadata) {
        j.key(k);
        write_meta_value(j, v);
      }
      j.end_object();
    }
    j.end_object();
  }
  j.end_array();
  j.key("tensors").begin_array();
  for (const auto& t : table.tensors()) {
    j.begin_object();
    j.key("name").value(t.name);
    if (!t.component.empty()) j.key("component").value(t.component);
    j.key("dtype").value(dtype_name(t.dtype));
    j.key("shape").begin_array();
    for (uint64_t d : t.shape) j.value(d);
    j.end_array();
    j.key("file").value(t.file);
    j.key("offset").value(t.offset);
    j.key("nbytes").value(t.nbytes);
    j.key("aligned16").value(t.offset % 16 == 0);
    j.key("aligned32").value(t.offset % 32 == 0);
    j.key("aligned64").value(t.offset % 64 == 0);
    j.end_object();
  }
  j.end_array();
  j.key("tensor_bytes").value(table.total_tensor_bytes());
  j.end_object();
  return j.str() + "\n";
}

}  // namespace wm::cli
