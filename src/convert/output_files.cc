#include "convert/output_files.h"

#include <filesystem>
#include <fmt/format.h>
#include <string_view>

#include "common/path_join.h"

namespace wm {
namespace {

constexpr std::string_view kIndexSuffix = ".safetensors.index.json";

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

Result<OutputFiles> plan_output_files(const std::string& out, std::optional<ConvertFormat> format,
                                      uint64_t shard_bytes, const std::vector<uint64_t>& sizes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  bool folder = fs::is_directory(out, ec);
  bool index_named = ends_with(out, kIndexSuffix);
  std::optional<ConvertFormat> by_name;
  if (ends_with(out, ".gguf")) by_name = ConvertFormat::kGguf;
  if (ends_with(out, ".safetensors") || index_named || folder) by_name = ConvertFormat::kSafetensors;
  if (!folder && !out.empty() && out.back() == '/')
    return Error{out, {}, {}, "no such folder (create it first, or name a file)"};
  if (!format && !by_name)
    return Error{out, {}, {},
                 "cannot tell the output format from the name: end it in .gguf, .safetensors or "
                 ".safetensors.index.json, name a folder, or give --format"};
  OutputFiles o;
  o.format = format ? *format : *by_name;
  if (index_named && o.format != ConvertFormat::kSafetensors)
    return Error{out, {}, {}, "a shard index names safetensors shards; --format gguf wants a .gguf name"};

  // The folder and the name the files are derived from ("model").
  std::string dir, stem;
  if (folder) {
    dir = out;
    stem = "model";
  } else {
    fs::path p(out);
    dir = p.parent_path().string();
    std::string name = p.filename().string();
    if (index_named) stem = name.substr(0, name.size() - kIndexSuffix.size());
    else if (ends_with(name, ".safetensors")) stem = name.substr(0, name.size() - 12);
    else stem = name;
  }
  auto in_dir = [&](const std::string& name) { return join_path(dir, name); };

  if (o.format == ConvertFormat::kGguf) {
    if (shard_bytes) return Error{out, {}, {}, "GGUF output is one file: --shard-size applies to safetensors"};
    o.files.push_back(folder ? in_dir("model.gguf") : out);
    o.file_of.assign(sizes.size(), 0);
    return o;
  }

  // Greedy, in order: what transformers' save_pretrained does too.
  uint64_t in_shard = 0;
  uint32_t shard = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    if (shard_bytes && in_shard > 0 && in_shard + sizes[k] > shard_bytes) {
      ++shard;
      in_shard = 0;
    }
    o.file_of.push_back(shard);
    in_shard += sizes[k];
  }
  uint32_t shards = shard + 1;
  if (shards == 1 && !index_named) {
    o.files.push_back(folder ? in_dir(stem + ".safetensors") : out);
    return o;
  }
  for (uint32_t s = 0; s < shards; ++s)
    o.files.push_back(in_dir(fmt::format("{}-{:05}-of-{:05}.safetensors", stem, s + 1, shards)));
  o.index = in_dir(stem + std::string(kIndexSuffix));
  return o;
}

}  // namespace wm
