#include "format/model_path.h"

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>

#include "common/path_join.h"
#include "format/byte_source.h"
#include "format/parsed_file.h"
#include "format/gguf_reader.h"
#include "format/shard_index.h"
#include "format/safetensors_reader.h"
#include "format/torch_reader.h"
#include "io/file.h"

namespace wm {
namespace fs = std::filesystem;
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Where ".index" starts in a shard index name: "model.safetensors.index.json",
// "pytorch_model.bin.index.json" (transformers' sharded PyTorch checkpoints),
// each maybe with a variant (".index.fp16.json"); npos for other names.
size_t index_marker(std::string_view name) {
  if (!ends_with(name, ".json")) return std::string_view::npos;
  for (std::string_view stem : {".safetensors.index", ".bin.index"}) {
    size_t at = name.find(stem);
    if (at != std::string_view::npos) return at + stem.size() - 6;
  }
  return std::string_view::npos;
}

bool is_index_name(std::string_view name) { return index_marker(name) != std::string_view::npos; }

// An index of PyTorch shards: used, like other checkpoints, only where there are no safetensors.
bool is_torch_index_name(std::string_view name) {
  return is_index_name(name) && name.find(".bin.index") != std::string_view::npos;
}

bool is_weights_name(std::string_view name) {
  return ends_with(name, ".safetensors") || ends_with(name, ".gguf");
}

// PyTorch checkpoints: opened by extension, or by their magic whatever the name.
bool is_torch_name(std::string_view name) {
  return ends_with(name, ".ckpt") || ends_with(name, ".pt") || ends_with(name, ".pth") || ends_with(name, ".bin");
}

// "model-00001-of-00003.safetensors", "x-00002-of-00002.fp16.safetensors": one shard of an index.
bool is_shard_name(std::string_view name) {
  size_t of = name.find("-of-");
  if (of == std::string_view::npos || of == 0) return false;
  size_t start = name.rfind('-', of - 1);
  if (start == std::string_view::npos || start + 1 == of) return false;
  for (size_t k = start + 1; k < of; ++k)
    if (name[k] < '0' || name[k] > '9') return false;
  size_t end = of + 4;
  while (end < name.size() && name[end] >= '0' && name[end] <= '9') ++end;
  return end > of + 4;
}

// "model.fp16.safetensors" -> "fp16"; "model.safetensors.index.fp16.json" -> "fp16"; else "".
std::string variant_of(std::string_view name) {
  if (is_index_name(name)) {
    std::string_view rest = name.substr(index_marker(name) + 6);  // ".fp16.json" or ".json"
    return rest.size() > 6 ? std::string(rest.substr(1, rest.size() - 6)) : std::string();
  }
  std::string_view stem = name.substr(0, name.rfind('.'));
  size_t dot = stem.rfind('.');
  return dot == std::string_view::npos ? std::string() : std::string(stem.substr(dot + 1));
}

Result<TensorTable> open_file(const std::string& path, const OpenOptions& options) {
  if (is_index_name(path)) return open_shard_index(path, options.log);
  auto file = File::open(path);
  if (!file) return file.error();
  if (file->size() == 0) return Error{path, {}, 0, "empty file (0 bytes); expected GGUF or safetensors", ErrorCode::kBadFormat};
  std::byte head[16] = {};  // 15 tell a legacy PyTorch checkpoint
  uint64_t n = std::min<uint64_t>(sizeof head, file->size());
  if (Status s = file->read_exact(0, {head, n}); !s) return s.error();
  FileSource src(*file);
  auto keep_open = [&](Result<TensorTable> parsed) { return keep_file_open(std::move(parsed), std::move(file.value())); };
  if (n >= 4 && std::memcmp(head, "GGUF", 4) == 0) return keep_open(parse_gguf(src, {options.metadata_arrays}));
  bool looks_safetensors = n >= 9 && static_cast<char>(head[8]) == '{';
  if (ends_with(path, ".safetensors") || looks_safetensors) return keep_open(parse_safetensors(src));
  if (looks_like_torch({head, n}) || is_torch_name(path)) return keep_open(parse_torch(src, options.log));
  if (ends_with(path, ".gguf")) return keep_open(parse_gguf(src, {options.metadata_arrays}));  // reports the wrong magic
  return Error{path, {}, 0,
               "unrecognised format: expected a GGUF file, a safetensors file, a *.safetensors.index.json or a PyTorch "
               "checkpoint",
               ErrorCode::kBadFormat};
}

// The weights a folder holds directly: its index if it has one, else its
// single weights file. Prefers `variant` when given, else files without one.
// Returns an empty string when the folder holds no weights.
Result<std::string> pick_weights_in(const fs::path& dir, const OpenOptions& options) {
  std::vector<std::string> indexes, weights, checkpoints;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::error_code entry_ec;  // a dangling link is skipped, not a listing error
    if (!entry.is_regular_file(entry_ec)) continue;
    std::string name = entry.path().filename().string();
    if (is_torch_index_name(name)) checkpoints.push_back(name);
    else if (is_index_name(name)) indexes.push_back(name);
    else if (is_weights_name(name)) weights.push_back(name);
    else if (is_torch_name(name)) checkpoints.push_back(name);
  }
  if (ec) return Error{dir.string(), {}, {}, fmt::format("cannot list folder: {}", ec.message())};
  // PyTorch checkpoints only where there is nothing better: folders often
  // carry both, and safetensors need no unpickling.
  if (indexes.empty() && weights.empty() && !checkpoints.empty()) {
    options.log.info(fmt::format("'{}' has no safetensors or GGUF weights: using its PyTorch checkpoints", dir.string()));
    for (auto& name : checkpoints) (is_index_name(name) ? indexes : weights).push_back(std::move(name));
  }
  // Candidates: every index and every whole weights file (shards belong to
  // an index). A default file beside a variant's index must be considered,
  // or "model.safetensors" loses to "model.safetensors.index.fp16.json".
  std::vector<std::string> pool = indexes;
  for (const auto& name : weights)
    if (!is_shard_name(name)) pool.push_back(name);
  if (pool.empty() && !weights.empty()) pool = weights;  // shards without their index: reported below
  if (pool.empty()) return std::string();
  std::sort(pool.begin(), pool.end());
  std::vector<std::string> chosen;
  for (const auto& name : pool)
    if (variant_of(name) == options.variant) chosen.push_back(name);
  // An index and a whole file of the same variant: the index (as before).
  if (chosen.size() > 1) {
    std::vector<std::string> chosen_indexes;
    for (const auto& name : chosen)
      if (is_index_name(name)) chosen_indexes.push_back(name);
    if (chosen_indexes.size() == 1) chosen = chosen_indexes;
  }
  if (chosen.empty() && !options.variant.empty()) {
    options.log.warn(fmt::format("no '{}' variant in '{}'; using the default weights", options.variant, dir.string()));
    for (const auto& name : pool)
      if (variant_of(name).empty()) chosen.push_back(name);
  }
  // A lone candidate is unambiguous whatever dots its name has
  // ("sd_xl_base_1.0.safetensors" is not a variant "0").
  if (chosen.empty() && pool.size() == 1) chosen = pool;
  if (chosen.size() != 1) {
    std::string list;
    for (const auto& name : pool) list += (list.empty() ? "" : ", ") + name;
    return Error{dir.string(), {}, {},
                 chosen.empty() ? fmt::format("no weights without a variant among: {} (pass --variant)", list)
                                : fmt::format("several candidate weight files: {}; name the one to open", list)};
  }
  for (const auto& name : pool)
    if (name != chosen.front())
      options.log.debug(fmt::format("'{}': ignoring '{}' in favour of '{}'", dir.string(), name, chosen.front()));
  return join_path(dir.string(), chosen.front());
}

Result<TensorTable> open_folder(const fs::path& dir, const OpenOptions& options) {
  // A diffusers pipeline (model_index.json) is its component subfolders,
  // whatever single-file checkpoints sit beside them at the root.
  std::error_code exists_ec;
  bool pipeline = fs::exists(dir / "model_index.json", exists_ec);
  if (!pipeline) {
    auto direct = pick_weights_in(dir, options);
    if (!direct) return direct.error();
    if (!direct->empty()) return open_file(*direct, options);
  } else {
    options.log.debug(fmt::format("'{}' is a diffusers pipeline: opening its component folders", dir.string()));
  }

  std::vector<fs::path> subdirs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_directory(ec)) subdirs.push_back(join_path(dir.string(), entry.path().filename().string()));
  std::sort(subdirs.begin(), subdirs.end());
  TensorTable table;
  for (const auto& sub : subdirs) {
    auto weights = pick_weights_in(sub, options);
    if (!weights) return weights.error();
    if (weights->empty()) continue;  // tokenizer/, scheduler/, ...
    auto part = open_file(*weights, options);
    if (!part) return part.error();
    part->set_component(sub.filename().string());
    options.log.debug(fmt::format("component '{}' from '{}'", sub.filename().string(), *weights));
    table.append(std::move(part.value()));
  }
  if (table.files().empty())
    return Error{dir.string(), {}, {},
                 "folder holds no model: expected .gguf/.safetensors files, a *.safetensors.index.json, or component "
                 "subfolders (unet/, transformer/, text_encoder/, vae/, ...) holding them"};
  return table;
}

}  // namespace

Result<TensorTable> open_model_path(const std::string& path, const OpenOptions& options) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return open_folder(path, options);
  return open_file(path, options);
}

Result<TensorTable> open_model(const std::vector<std::string>& paths, const OpenOptions& options) {
  TensorTable table;
  for (const auto& path : paths) {
    auto part = open_model_path(path, options);
    if (!part) return part.error();
    table.append(std::move(part.value()));
  }
  if (Status s = table.check_unique_names(); !s) return s.error();
  return table;
}

}  // namespace wm
