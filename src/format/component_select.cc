#include "format/component_select.h"

#include <algorithm>
#include <fmt/format.h>

namespace wm {

std::vector<std::string> component_names(const TensorTable& table) {
  std::vector<std::string> names;
  for (const FileInfo& f : table.files())
    if (std::find(names.begin(), names.end(), f.component) == names.end()) names.push_back(f.component);
  return names;
}

Result<TensorTable> select_component(const TensorTable& table, std::string_view name) {
  TensorTable out;
  std::vector<uint32_t> new_index(table.files().size(), UINT32_MAX);
  for (size_t f = 0; f < table.files().size(); ++f)
    if (table.files()[f].component == name) new_index[f] = out.add_file(table.files()[f]);
  if (out.files().empty()) {
    std::string known;
    for (const auto& c : component_names(table)) known += (known.empty() ? "" : ", ") + (c.empty() ? "(none)" : c);
    return Error{table.files().empty() ? std::string() : table.files()[0].path, {}, {},
                 fmt::format("no component '{}' in this model (components: {})", name, known)};
  }
  for (const TensorInfo& t : table.tensors()) {
    if (new_index[t.file] == UINT32_MAX) continue;
    TensorInfo copy = t;
    copy.file = new_index[t.file];
    out.add_tensor(std::move(copy));
  }
  if (Status s = out.check_unique_names(); !s) return s.error();
  return out;
}

}  // namespace wm
