#include "convert/metadata_carry.h"

#include <fmt/format.h>
#include <unordered_map>

namespace wm {

CarriedMetadata carry_metadata(const std::vector<FileInfo>& files, ConvertFormat target) {
  CarriedMetadata out;
  std::unordered_map<std::string, MetaValue> seen;
  size_t dropped_non_strings = 0;
  std::string first_dropped;
  for (const FileInfo& f : files) {
    for (const auto& [key, value] : f.metadata) {
      // The writer sets alignment from its own layout; the source's says
      // nothing about the output.
      if (key == "general.alignment") continue;
      auto [it, fresh] = seen.emplace(key, value);
      if (!fresh) {
        if (it->second != value)
          out.not_kept.push_back(fmt::format("metadata '{}' of {} ({}): differs from an earlier file's; kept the first",
                                             key, f.path, meta_to_string(value)));
        continue;
      }
      if (target == ConvertFormat::kGguf) {
        // safetensors metadata is a string map: strings in GGUF too.
        out.gguf.emplace_back(key, value);
      } else if (value.type == MetaType::STRING) {
        out.strings.emplace_back(key, std::get<std::string>(value.v));
      } else {
        if (dropped_non_strings++ == 0) first_dropped = key;
      }
    }
  }
  if (dropped_non_strings)
    out.not_kept.push_back(fmt::format("{} GGUF metadata key(s) with non-string values (first '{}'): safetensors "
                                       "metadata holds strings only",
                                       dropped_non_strings, first_dropped));
  return out;
}

}  // namespace wm
