#include "format/shard_index.h"

#include <filesystem>
#include <fmt/format.h>
#include <simdjson.h>
#include <unordered_map>
#include <vector>

#include "common/path_join.h"
#include "format/byte_source.h"
#include "format/parsed_file.h"
#include "format/safetensors_reader.h"
#include "format/torch_reader.h"
#include "io/file.h"

namespace wm {
namespace {

// A shard name that is relative and cannot climb out of the index's folder:
// no root ("/x", "\\x", "C:/x", "C:x", "\\\\server\\share") and no "..".
bool is_safe_relative(std::string_view name) {
  if (name.empty()) return false;
  const std::filesystem::path path(name);
  if (path.has_root_name() || path.has_root_directory()) return false;
  for (const auto& part : path) {
    if (part == "..") return false;
  }
  return name.find('\0') == std::string_view::npos;
}

}  // namespace

Result<ShardIndex> parse_safetensors_index(std::string_view json, const std::string& file_name) {
  auto fail = [&](std::string tensor, std::string message) {
    return Error{file_name, std::move(tensor), {}, std::move(message)};
  };
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(json.data(), json.size()).get(doc))
    return fail({}, fmt::format("index is not valid JSON: {}", simdjson::error_message(err)));
  simdjson::dom::object root;
  if (doc.get_object().get(root)) return fail({}, "index is not a JSON object");

  ShardIndex index;
  simdjson::dom::object meta;
  if (!root["metadata"].get_object().get(meta)) {
    for (auto field : meta) {
      std::string_view s;
      std::string text = field.value.get_string().get(s) ? simdjson::minify(field.value) : std::string(s);
      index.metadata.emplace_back(std::string(field.key), MetaValue::str(std::move(text)));
    }
  }
  simdjson::dom::object map;
  if (root["weight_map"].get_object().get(map)) return fail({}, "index has no \"weight_map\" object");
  std::unordered_map<std::string, size_t> shard_ids;
  std::unordered_map<std::string_view, bool> seen;
  for (auto field : map) {
    std::string_view raw;
    if (field.value.get_string().get(raw))
      return fail(std::string(field.key), "weight_map value is not a file name string");
    // "x.safetensors" and "./x.safetensors" are one shard: compare resolved names.
    std::string shard = std::filesystem::path(raw).lexically_normal().generic_string();  // "/" on every OS
    if (!is_safe_relative(raw) || !is_safe_relative(shard))
      return fail(std::string(field.key),
                  fmt::format("shard '{}' is not a relative path inside the index's folder", raw));
    if (seen.count(field.key)) return fail(std::string(field.key), "listed twice in weight_map");
    seen[field.key] = true;
    auto [it, inserted] = shard_ids.emplace(shard, index.shards.size());
    if (inserted) index.shards.emplace_back(shard);
    index.weight_map.emplace_back(std::string(field.key), it->second);
  }
  if (index.weight_map.empty())
    return fail({}, "\"weight_map\" is empty: the index names no tensor, so there is nothing to load");
  return index;
}

Result<TensorTable> open_shard_index(const std::string& path, const Logger& log) {
  auto file = File::open(path);
  if (!file) return file.error();
  if (file->size() == 0) return Error{path, {}, 0, "empty file (0 bytes); expected a safetensors index (JSON)"};
  if (file->size() > kIndexMaxBytes)
    return Error{path, {}, 0, fmt::format("index is {} bytes, over the {} byte cap", file->size(), kIndexMaxBytes)};
  std::string json(file->size(), '\0');
  if (Status s = file->read_exact(0, {reinterpret_cast<std::byte*>(json.data()), json.size()}); !s) return s.error();
  auto index = parse_safetensors_index(json, path);
  if (!index) return index.error();

  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  TensorTable table;
  std::unordered_map<std::string, uint32_t> shard_of;  // tensor name -> file index in table
  std::vector<uint32_t> file_of_shard;                 // index->shards[k] -> file index in table
  for (const auto& shard : index->shards) {
    std::string shard_path = join_path(dir.string(), shard);
    auto shard_file = File::open(shard_path);
    if (!shard_file)
      return Error{path, {}, {}, fmt::format("cannot open shard '{}': {}", shard, shard_file.error().to_string()),
                   shard_file.error().code};
    // Parsed before the File moves on; by name, as transformers names them.
    const bool safetensors = shard.size() > 12 && shard.compare(shard.size() - 12, 12, ".safetensors") == 0;
    auto header = safetensors ? parse_safetensors(FileSource(*shard_file)) : parse_torch(FileSource(*shard_file), log);
    auto parsed = keep_file_open(std::move(header), std::move(shard_file.value()));
    if (!parsed) return parsed.error();
    auto file_index = static_cast<uint32_t>(table.files().size());
    file_of_shard.push_back(file_index);
    for (const auto& t : parsed->tensors()) {
      auto [it, inserted] = shard_of.emplace(t.name, file_index);
      if (!inserted)
        return Error{shard_path, t.name, t.offset,
                     fmt::format("tensor is present in two shards (also in '{}')", table.files()[it->second].path)};
    }
    table.append(std::move(parsed.value()));
  }
  for (const auto& [name, shard] : index->weight_map) {
    auto it = shard_of.find(name);
    if (it == shard_of.end() || it->second != file_of_shard[shard])
      return Error{path, name, {},
                   it == shard_of.end()
                       ? fmt::format("listed in the index for shard '{}' but missing from it", index->shards[shard])
                       : fmt::format("the index assigns it to shard '{}' but it is in '{}'", index->shards[shard],
                                     table.files()[it->second].path)};
  }
  if (shard_of.size() != index->weight_map.size()) {
    std::unordered_map<std::string_view, bool> listed;
    for (const auto& [name, shard] : index->weight_map) listed[name] = true;
    for (const auto& t : table.tensors())
      if (!listed.count(t.name))
        return Error{table.files()[t.file].path, t.name, t.offset, fmt::format("tensor is not listed in the index '{}'", path)};
  }
  return table;
}

}  // namespace wm
