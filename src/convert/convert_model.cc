#include "convert/convert_model.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <memory>
#include <numeric>

#include "common/json_writer.h"
#include "convert/metadata_carry.h"
#include "convert/output_files.h"
#include "dtype/block_codec.h"
#include "dtype/convert.h"
#include "format/gguf_writer.h"
#include "format/model_path.h"
#include "format/safetensors_writer.h"
#include "io/atomic_file.h"
#include "load/tensor_source.h"
#include "plan/name_rules.h"

namespace wm {
namespace {

// The dtype each tensor is written in: the first --type rule that matches
// it, else its own.
Result<std::vector<DType>> target_dtypes(const TensorTable& table, const std::string& type_rules) {
  auto rules = NameRules::parse(type_rules);
  if (!rules) return Error{{}, {}, {}, fmt::format("--type: {}", rules.error().message)};
  for (const NameRule& r : rules->rules())
    if (!dtype_from_name(r.value))
      return Error{{}, {}, {}, fmt::format("--type: unknown dtype '{}' in rule '{}={}'", r.value, r.pattern, r.value)};
  std::vector<DType> out;
  for (const TensorInfo& t : table.tensors()) {
    const NameRule* rule = rules->match_rule(t.qualified_name());
    out.push_back(rule ? *dtype_from_name(rule->value) : t.dtype);
  }
  return out;
}

// A target reached by reading as F32 and quantising with the target's
// codec (ggml's reference quantiser): a quantised GGUF from any float model.
bool quantises(DType from, DType to) {
  const BlockCodec* c = block_codec(to);
  return from != to && !can_convert(from, to) && dtype_info(to).packing == Packing::kRowBlock && c && c->quantize &&
         can_convert(from, DType::F32);
}

// Refuses a conversion no codec does, naming the tensor and its file.
Status check_convertible(const TensorTable& table, size_t i, DType to) {
  const TensorInfo& t = table.tensors()[i];
  if (t.dtype == to || can_convert(t.dtype, to) || quantises(t.dtype, to)) return {};
  const std::string& file = table.files()[t.file].path;
  if (dtype_info(to).packing == Packing::kRowBlock)
    return Error{file, t.qualified_name(), {},
                 fmt::format("no quantiser for {}: cannot convert {} to it", dtype_name(to), dtype_name(t.dtype))};
  return Error{file, t.qualified_name(), {},
               fmt::format("no conversion from {} to {}", dtype_name(t.dtype), dtype_name(to))};
}

// The writers refuse a dtype their format lacks too; this says what to do.
Status check_target_has(const TensorTable& table, size_t i, DType to, ConvertFormat format) {
  const DTypeInfo& info = dtype_info(to);
  bool has = format == ConvertFormat::kGguf ? info.gguf_id >= 0 : info.in_safetensors;
  if (has) return {};
  const TensorInfo& t = table.tensors()[i];
  return Error{table.files()[t.file].path, t.qualified_name(), {},
               fmt::format("{} has no dtype {}: choose one it has with --type (e.g. '{}=F16')",
                           convert_format_name(format), info.name, t.qualified_name())};
}

// The smallest run of elements that is whole blocks of both dtypes: chunks
// are multiples of it, so every chunk converts on its own.
struct ChunkUnit {
  uint64_t src_blocks, src_bytes, out_bytes;
};
ChunkUnit chunk_unit(DType from, DType to) {
  const DTypeInfo& f = dtype_info(from);
  const DTypeInfo& t = dtype_info(to);
  uint64_t elems = std::lcm<uint64_t>(f.block_elems, t.block_elems);
  return {elems / f.block_elems, elems / f.block_elems * f.block_bytes, elems / t.block_elems * t.block_bytes};
}

// F32 bytes of one unit, the quantiser's input (0 when not quantising).
uint64_t f32_bytes(const ChunkUnit& u, const ConvertedTensor& t) {
  return quantises(t.from, t.to) ? u.src_blocks * dtype_info(t.from).block_elems * 4 : 0;
}

// F32 `values` (4-byte aligned) quantised into whole blocks of `to` at `dst`.
void quantise(std::span<const std::byte> values, DType to, std::span<std::byte> dst) {
  block_codec(to)->quantize(reinterpret_cast<const float*>(values.data()), dst.data(),
                            dst.size() / dtype_info(to).block_bytes);
}

// Staging bytes one unit of `t` takes: its output, its source bytes when
// converting (they are read beside it), and the F32 values a quantiser takes.
uint64_t staged_bytes(const ChunkUnit& u, const ConvertedTensor& t) {
  return u.out_bytes + (t.from != t.to ? u.src_bytes : 0) + f32_bytes(u, t);
}

// Output paths must not be any input: the rename would replace a file the
// conversion is reading.
Status refuse_overwriting_inputs(const std::vector<std::string>& inputs, const TensorTable& table,
                                 const OutputFiles& out) {
  namespace fs = std::filesystem;
  std::vector<std::string> ins = inputs;
  for (const FileInfo& f : table.files()) ins.push_back(f.path);
  std::vector<std::string> outs = out.files;
  if (!out.index.empty()) outs.push_back(out.index);
  for (const auto& o : outs)
    for (const auto& i : ins) {
      std::error_code ec;
      if (fs::equivalent(o, i, ec)) return Error{o, {}, {}, "refusing to overwrite an input of the conversion"};
    }
  return {};
}

// Every output file's header and sizes, checked before any file is created.
Result<std::vector<TensorFileLayout>> lay_out(const OutputFiles& files, const std::vector<ConvertedTensor>& tensors,
                                              const CarriedMetadata& meta) {
  std::vector<TensorFileLayout> layouts;
  for (uint32_t f = 0; f < files.files.size(); ++f) {
    Result<TensorFileLayout> layout = Error{};
    if (files.format == ConvertFormat::kGguf) {
      GgufWriter w;
      for (const auto& [k, v] : meta.gguf) w.add_metadata(k, v);
      for (const auto& t : tensors) w.add_tensor(t.name, t.to, t.shape);
      layout = w.layout(files.files[f]);
    } else {
      SafetensorsWriter w;
      for (const auto& [k, v] : meta.strings) w.add_metadata(k, v);
      for (const auto& t : tensors)
        if (t.file == f) w.add_tensor(t.name, t.to, t.shape);
      layout = w.layout(files.files[f]);
    }
    if (!layout) return layout.error();
    layouts.push_back(std::move(layout.value()));
  }
  return layouts;
}

// The parser's open files (a table parsed from memory has none: opened here).
Result<std::vector<std::shared_ptr<const File>>> open_files(const TensorTable& table) {
  std::vector<std::shared_ptr<const File>> handles;
  for (const FileInfo& f : table.files()) {
    if (f.opened) {
      handles.push_back(f.opened);
      continue;
    }
    auto opened = File::open(f.path);
    if (!opened) return opened.error();
    handles.push_back(std::make_shared<const File>(std::move(opened.value())));
  }
  return handles;
}

// Tensor `i` from `source` into `w`, chunk by chunk through `staging`
// (grown to at most o.staging_bytes, or one unit when a unit is larger).
// `on_chunk` gets the source bytes each chunk consumed.
Status stream_tensor(const TensorSource& source, TensorSource::Worker& worker, size_t i, bool plain,
                     const ConvertedTensor& t, const ConvertOptions& o, std::vector<std::byte>& staging, TensorStreamWriter& w,
                     const std::function<void(uint64_t)>& on_chunk) {
  if (t.bytes_in == 0) return {};
  ChunkUnit u = chunk_unit(t.from, t.to);
  uint64_t total_units = t.bytes_in / u.src_bytes;
  if (!plain) {
    // A PyTorch view or deflated entry can only be read whole.
    if (t.bytes_out > o.staging_bytes)
      o.log.info(fmt::format("convert: '{}' is a PyTorch view or compressed entry: read whole ({} MiB), beyond the "
                             "{} MiB staging budget",
                             t.name, t.bytes_out >> 20, o.staging_bytes >> 20));
    std::vector<std::byte> whole(t.bytes_out);
    if (quantises(t.from, t.to)) {
      std::vector<float> values(t.bytes_out / dtype_info(t.to).block_bytes * dtype_info(t.to).block_elems);
      std::span<std::byte> as_bytes(reinterpret_cast<std::byte*>(values.data()), values.size() * 4);
      if (Status s = source.read(worker, i, DType::F32, 0, total_units * u.src_blocks, as_bytes); !s) return s;
      quantise(as_bytes, t.to, whole);
    } else if (Status s = source.read(worker, i, t.to, 0, total_units * u.src_blocks, whole); !s) {
      return s;
    }
    if (Status s = w.append(whole); !s) return s;
    on_chunk(t.bytes_in);
    return {};
  }
  uint64_t units_per_chunk = std::min(std::max<uint64_t>(o.staging_bytes / staged_bytes(u, t), 1), total_units);
  uint64_t room = units_per_chunk * staged_bytes(u, t);
  if (staging.size() < room) staging.resize(room);
  for (uint64_t at = 0; at < total_units;) {
    uint64_t n = std::min(units_per_chunk, total_units - at);
    // Staging holds [F32 values a quantiser takes][output][source bytes]:
    // the floats first, where the buffer's alignment is theirs.
    std::span<std::byte> values(staging.data(), n * f32_bytes(u, t));
    std::span<std::byte> dst(values.data() + values.size(), n * u.out_bytes);
    std::span<std::byte> scratch;
    if (t.from != t.to) scratch = {dst.data() + dst.size(), n * u.src_bytes};
    if (!values.empty()) {  // read as F32, then quantise into dst
      if (Status s = source.read(worker, i, DType::F32, at * u.src_blocks, n * u.src_blocks, values, scratch); !s)
        return s;
      quantise(values, t.to, dst);
    } else if (Status s = source.read(worker, i, t.to, at * u.src_blocks, n * u.src_blocks, dst, scratch); !s) {
      return s;
    }
    if (Status s = w.append(dst); !s) return s;
    at += n;
    on_chunk(n * u.src_bytes);
  }
  return {};
}

Status write_index(const OutputFiles& out, const std::vector<ConvertedTensor>& tensors, uint64_t total) {
  JsonWriter j;
  j.begin_object();
  j.key("metadata").begin_object().key("total_size").value(total).end_object();
  j.key("weight_map").begin_object();
  for (const auto& t : tensors)
    j.key(t.name).value(std::filesystem::path(out.files[t.file]).filename().string());
  j.end_object();
  j.end_object();
  std::string text = j.str() + "\n";
  auto w = AtomicFileWriter::create(out.index);
  if (!w) return w.error();
  if (Status s = w->write({reinterpret_cast<const std::byte*>(text.data()), text.size()}); !s) return s;
  return w->commit();
}

// Removes files this conversion committed, when a later step fails.
class CommittedFiles {
 public:
  ~CommittedFiles() {
    for (const auto& p : paths_) {
      std::error_code ec;
      std::filesystem::remove(p, ec);
    }
  }
  void add(std::string p) { paths_.push_back(std::move(p)); }
  void keep() { paths_.clear(); }

 private:
  std::vector<std::string> paths_;
};

}  // namespace

const char* convert_format_name(ConvertFormat f) {
  switch (f) {
    case ConvertFormat::kGguf: return "gguf";
    case ConvertFormat::kSafetensors: return "safetensors";
  }
  return "?";
}

std::optional<ConvertFormat> convert_format_from_name(std::string_view name) {
  for (ConvertFormat f : {ConvertFormat::kGguf, ConvertFormat::kSafetensors})
    if (name == convert_format_name(f)) return f;
  return std::nullopt;
}

Result<ConvertReport> convert_model(const std::vector<std::string>& inputs, const std::string& out,
                                    const ConvertOptions& o) {
  auto started = std::chrono::steady_clock::now();
  auto table = open_model(inputs, {o.log, o.variant, true});
  if (!table) return table.error();
  const auto& tensors = table->tensors();

  // Every check before any byte is written: dtypes, conversions, names,
  // the target's layout of every file.
  auto targets = target_dtypes(*table, o.type_rules);
  if (!targets) return targets.error();
  ConvertReport report;
  std::vector<uint64_t> sizes;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = tensors[i];
    DType to = (*targets)[i];
    if (Status s = check_convertible(*table, i, to); !s) return s.error();
    SizeOrReason in = tensor_nbytes(t.dtype, t.shape), size = tensor_nbytes(to, t.shape);
    if (!in.nbytes) return Error{table->files()[t.file].path, t.qualified_name(), {}, in.reason};
    if (!size.nbytes)
      return Error{table->files()[t.file].path, t.qualified_name(), {}, fmt::format("as {}: {}", dtype_name(to), size.reason)};
    report.tensors.push_back({t.qualified_name(), t.dtype, to, t.shape, *in.nbytes, *size.nbytes, 0});
    sizes.push_back(*size.nbytes);
    report.bytes_in += *in.nbytes;
    report.bytes_out += *size.nbytes;
  }
  auto files = plan_output_files(out, o.format, o.shard_bytes, sizes);
  if (!files) return files.error();
  if (Status s = refuse_overwriting_inputs(inputs, *table, *files); !s) return s.error();
  for (size_t i = 0; i < tensors.size(); ++i) {
    report.tensors[i].file = files->file_of[i];
    if (Status s = check_target_has(*table, i, report.tensors[i].to, files->format); !s) return s.error();
  }
  report.format = files->format;
  CarriedMetadata meta = carry_metadata(table->files(), files->format);
  report.metadata_kept = meta.kept();
  report.not_kept = meta.not_kept;

  auto layouts = lay_out(*files, report.tensors, meta);
  if (!layouts) return layouts.error();

  auto handles = open_files(*table);
  if (!handles) return handles.error();
  TensorSource source(*table, std::move(handles.value()), o.io, o.log);
  TensorSource::Worker worker = source.make_worker();

  // The staging buffer: chunks of converted (or copied) bytes, and the
  // source bytes a conversion reads them from.
  std::vector<std::byte> staging;
  CommittedFiles committed;
  uint64_t done = 0;
  auto on_chunk = [&](uint64_t bytes) {
    done += bytes;
    if (o.progress) o.progress(done, report.bytes_in);
  };
  size_t next = 0;
  for (uint32_t f = 0; f < files->files.size(); ++f) {
    auto w = TensorStreamWriter::create(files->files[f], std::move((*layouts)[f]));
    if (!w) return w.error();
    for (; next < tensors.size() && report.tensors[next].file == f; ++next) {
      if (Status s = stream_tensor(source, worker, next, tensors[next].plain_source(), report.tensors[next], o, staging,
                                   *w, on_chunk); !s)
        return s.error();
    }
    if (Status s = w->commit(); !s) return s.error();
    committed.add(files->files[f]);
  }
  if (!files->index.empty())
    if (Status s = write_index(*files, report.tensors, report.bytes_out); !s) return s.error();
  committed.keep();
  report.staging_bytes = staging.size();
  report.files = files->files;
  report.index = files->index;
  report.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace wm
