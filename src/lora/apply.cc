#include "lora/apply.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "io/process_memory.h"
#include "io/sigbus_guard.h"
#include "load/tensor_source.h"
#include "lora/lora_file.h"
#include "lora/merge.h"
#include "lora/name_match.h"
#include "lora/pair_scale.h"

namespace wm {
namespace {

bool is_mapped(const Tensor& t) { return t.placement == Placement::kMap && !t.on_device; }

std::vector<const std::byte*> host_pointers(const std::vector<Tensor>& tensors) {
  std::vector<const std::byte*> p;
  p.reserve(tensors.size());
  for (const Tensor& t : tensors) p.push_back(t.host_data);
  return p;
}

struct ModeChoice {
  LoraAction action;
  std::string why;
};

// The per-tensor decision; an error string when the requested mode cannot
// be honoured for this dtype.
Result<ModeChoice> choose_mode(LoraApplyMode mode, DType t) {
  const DTypeInfo& info = dtype_info(t);
  if (!info.is_float)
    return Error{{}, {}, {}, fmt::format("LoRA on a tensor of dtype {}: only float weights can take a LoRA",
                                         info.name)};
  const bool quantised = info.packing == Packing::kRowBlock;
  switch (mode) {
    case LoraApplyMode::kImmediately:
      if (!lora_can_patch(t))
        return Error{{}, {}, {}, fmt::format("cannot patch a {} tensor in place: weightmap has no {} quantiser "
                                             "(immediately supports {}); use --lora-apply-mode at_runtime",
                                             info.name, info.name, lora_patchable_dtypes())};
      return ModeChoice{LoraAction::kPatched, quantised ? "immediately (dequantised, patched, requantised)"
                                                        : "immediately"};
    case LoraApplyMode::kAtRuntime: return ModeChoice{LoraAction::kAtRuntime, "at_runtime"};
    case LoraApplyMode::kAuto:
      if (quantised) return ModeChoice{LoraAction::kAtRuntime, fmt::format("auto: quantised {} base", info.name)};
      if (!lora_can_patch(t))
        return ModeChoice{LoraAction::kAtRuntime, fmt::format("auto: {} cannot be patched in place", info.name)};
      return ModeChoice{LoraAction::kPatched, "auto: float base"};
  }
  return Error{{}, {}, {}, "unknown LoRA apply mode"};
}

std::vector<float> scales_of(const std::vector<LoraTerm>& terms) {
  std::vector<float> out;
  for (const LoraTerm& t : terms) out.push_back(t.scale);
  return out;
}

std::string shape_str(const std::vector<uint64_t>& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

uint64_t product(const std::vector<uint64_t>& s, size_t from) {
  uint64_t n = 1;
  for (size_t k = from; k < s.size(); ++k) n *= s[k];
  return n;
}

}  // namespace

Error LoraApplier::tensor_error(size_t index, std::string message) const {
  const TensorInfo& src = m_.table().tensors()[index];
  return Error{m_.table().files()[src.file].path, src.name, src.offset, std::move(message)};
}

Status LoraApplier::collect(const LoraSpec& spec, const LoraOptions& options, TermsByTensor& terms,
                            LoraReport& report) {
  auto file = LoraFile::open(spec.path, options.log);
  if (!file) return file.error();
  std::vector<std::string> base_names;
  base_names.reserve(m_.tensors().size());
  for (const auto& t : m_.tensors()) base_names.push_back(t.name);
  BaseNameIndex base(base_names);
  LoraNameMatch match = match_lora_names(file->tensor_names(), base, options.prefixes);
  size_t alpha_from_rank = 0;
  for (auto& u : match.unmatched) {
    u.file = spec.path;
    options.log.warn(fmt::format("LoRA '{}': tensor '{}' unused: {}", spec.path, u.tensor, u.reason));
    report.unmatched.push_back(std::move(u));
  }
  for (const LoraPair& pair : match.pairs) {
    const Tensor& t = m_.tensors()[pair.base];
    const TensorInfo& down_info = file->tensor(pair.down);
    const TensorInfo& up_info = file->tensor(pair.up);
    auto misfit = [&](std::string_view what) {
      return Error{spec.path, pair.down, down_info.offset,
                   fmt::format("LoRA factors down {} and up {} do not fit base tensor '{}' of shape {}: {}",
                               shape_str(down_info.shape), shape_str(up_info.shape), t.name, shape_str(t.shape),
                               what)};
    };
    if (t.shape.size() < 2) return misfit("the base has fewer than 2 dimensions");
    if (down_info.shape.size() < 2 || up_info.shape.size() < 2) return misfit("factors need 2 or more dimensions");
    const uint64_t rows = t.shape[0], cols = product(t.shape, 1);
    const uint64_t rank = down_info.shape[0];
    if (rank == 0 || rank > UINT32_MAX) return misfit("rank out of range");
    if (product(down_info.shape, 1) != cols) return misfit("down is not rank x (base columns)");
    if (up_info.shape[0] != rows || up_info.shape[1] != rank || product(up_info.shape, 2) != 1)
      return misfit("up is not (base rows) x rank");
    LoraTerm term;
    term.source = spec.path;
    term.rank = static_cast<uint32_t>(rank);
    term.rows = rows;
    term.cols = cols;
    auto down = file->read_f32(down_info);
    if (!down) return down.error();
    auto up = file->read_f32(up_info);
    if (!up) return up.error();
    term.down = std::move(down.value());
    term.up = std::move(up.value());
    auto scale = pair_scale(*file, pair, term.rank, spec.strength);
    if (!scale) return scale.error();
    term.scale = static_cast<float>(scale->scale);
    options.log.debug(fmt::format("LoRA '{}': '{}' scale {} = {}", spec.path, pair.stem, term.scale, scale->why));
    if (scale->alpha_from_rank) ++alpha_from_rank;
    terms[pair.base].push_back(std::move(term));
  }
  // A fallback is said, with its reason (PEFT-named files without their
  // config have been warned about when opened).
  if (alpha_from_rank)
    options.log.info(fmt::format("LoRA '{}': {} of {} pairs store no alpha (no .alpha tensor, adapter config or GGUF "
                                 "alpha): applied with alpha = rank (scale = strength)",
                                 spec.path, alpha_from_rank, match.pairs.size()));
  return {};
}

Result<LoraReport> LoraApplier::apply(const std::vector<LoraSpec>& loras, const LoraOptions& options) {
  // Everything that can fail on bad input is checked before any byte moves,
  // the model's own files first: patching reads them.
  if (Status s = m_.check_files(); !s) return s.error();
  LoraReport report;
  TermsByTensor terms;
  for (const LoraSpec& spec : loras)
    if (Status s = collect(spec, options, terms, report); !s) return s.error();
  std::vector<ModeChoice> choices;
  for (const auto& [index, ts] : terms) {
    auto choice = choose_mode(options.mode, m_.tensors()[index].dtype);
    if (!choice) return tensor_error(index, choice.error().message);
    choices.push_back(std::move(choice.value()));
  }

  report.memory_before = read_process_memory();
  // From here on tensors change: say which (moved, changed in place) at the end.
  const std::vector<const std::byte*> before = host_pointers(m_.tensors());
  touched_.clear();
  // Swap: undo the previous LoRAs, keeping reverted private ranges to reuse.
  std::map<size_t, std::unique_ptr<PrivateRange>> spare;
  if (m_.lora_state()) {
    for (auto& [index, p] : m_.lora_state()->patched)
      if (Status s = restore(index, p, &spare[index]); !s) {
        (void)remove();
        return s.error();
      }
    m_.set_lora_state(nullptr);
  }

  auto state = std::make_shared<LoraState>();
  size_t k = 0;
  for (auto& [index, ts] : terms) {
    const ModeChoice& choice = choices[k++];
    LoraTensorReport r{index, m_.tensors()[index].name, choice.action, choice.why,
                       static_cast<uint32_t>(ts.size()), 0, scales_of(ts)};
    if (choice.action == LoraAction::kAtRuntime) {
      state->runtime[index] = std::move(ts);
      ++report.tensors_at_runtime;
    } else {
      std::unique_ptr<PrivateRange> reuse;
      if (auto it = spare.find(index); it != spare.end()) reuse = std::move(it->second);
      LoraState::Patch p;
      if (Status s = patch(index, ts, p, std::move(reuse)); !s) {
        m_.set_lora_state(state);  // so remove() puts back what was patched so far
        (void)remove();
        return s.error();
      }
      ts = {};  // patched: the factors are no longer needed
      if (p.range) {
        r.cow_bytes = p.range->size();
        r.why += ", copy-on-write";
      } else {
        r.why += m_.tensors()[index].on_device ? ", device buffer" : ", host copy";
      }
      report.cow_bytes += r.cow_bytes;
      ++report.tensors_patched;
      state->patched.emplace(index, std::move(p));
    }
    report.tensors.push_back(std::move(r));
  }
  spare.clear();  // ranges of tensors the new LoRAs leave alone: unmapped
  options.log.info(fmt::format("lora: {} tensors patched (copy-on-write {:.1f} MiB), {} at run time, {} unmatched",
                               report.tensors_patched, static_cast<double>(report.cow_bytes) / (1 << 20),
                               report.tensors_at_runtime, report.unmatched.size()));
  finish_generation(before, report.moved, report.changed_in_place);
  report.memory_after = read_process_memory();
  state->report = report;
  m_.set_lora_state(std::move(state));
  return report;
}

void LoraApplier::touch(size_t index) { touched_.push_back(index); }

void LoraApplier::finish_generation(const std::vector<const std::byte*>& before, std::vector<size_t>& moved,
                                    std::vector<size_t>& changed) {
  std::sort(touched_.begin(), touched_.end());
  touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
  for (size_t i : touched_) (m_.tensors()[i].host_data != before[i] ? moved : changed).push_back(i);
  touched_.clear();
  if (moved.empty() && changed.empty()) return;
  std::vector<size_t> stamped = moved;
  stamped.insert(stamped.end(), changed.begin(), changed.end());
  m_.advance_generation(stamped);
}

Status LoraApplier::patch(size_t index, std::span<const LoraTerm> terms, LoraState::Patch& p,
                          std::unique_ptr<PrivateRange> reuse) {
  if (Status s = m_.wait_ready(index); !s) return s;
  const Tensor& t = m_.tensors()[index];
  touch(index);
  const uint64_t rows = terms[0].rows, cols = terms[0].cols;
  if (is_mapped(t)) {
    if (!reuse) {
      auto range = PrivateRange::map(*m_.files()[t.file], t.file_offset, t.nbytes);
      if (!range) return tensor_error(index, "copy-on-write mapping failed: " + range.error().message);
      reuse = std::make_unique<PrivateRange>(std::move(range.value()));
    }
    p.original = t.host_data;
    p.range = std::move(reuse);
    // Patching reads the file's pages through the private mapping: a file
    // truncated under it faults here, which becomes this error.
    std::vector<float> row(cols);
    std::byte* data = p.range->data();
    if (const std::byte* fault = guard_sigbus(data, p.range->size(),
                                              [&] { add_lora_delta(t.dtype, data, rows, cols, terms, row); })) {
      return m_.mapped_fault(index, t.host_data + (fault - data), "lora patch");  // host_data is still the original
    }
    m_.redirect_mapped(index, data);
    return {};
  }
  if (!t.on_device) {
    add_lora_delta(t.dtype, m_.writable_bytes(index).data(), rows, cols, terms);
    return {};
  }
  Device& device = m_.device(t.device);
  if (device.patches(t.dtype)) {  // in the device's memory: only the factors travel
    if (Status s = device.add_low_rank(t.device_buffer, t.dtype, rows, cols, terms.data(), terms.size()); !s)
      return tensor_error(index, "patching on the device: " + s.error().message);
    return {};
  }
  // A device that cannot patch: download, patch on the host, upload.
  std::vector<std::byte> buf(t.nbytes);
  if (Status s = device.download(t.device_buffer, 0, buf.data(), buf.size()); !s)
    return tensor_error(index, "downloading for the LoRA patch: " + s.error().message);
  add_lora_delta(t.dtype, buf.data(), rows, cols, terms);
  return upload_whole(index, buf);
}

// Uploads a whole tensor's new bytes to its device and waits for them.
Status LoraApplier::upload_whole(size_t index, const std::vector<std::byte>& bytes) {
  const Tensor& t = m_.tensors()[index];
  Device& device = m_.device(t.device);
  Status upload;
  device.upload(t.device_buffer, 0, bytes.data(), t.nbytes, [&upload](Status s) {
    if (!s) upload = std::move(s);
  });
  Status sync = device.synchronize();
  if (!upload) return tensor_error(index, "uploading the LoRA-patched bytes: " + upload.error().message);
  if (!sync) return tensor_error(index, "uploading the LoRA-patched bytes: " + sync.error().message);
  return {};
}

Status LoraApplier::restore(size_t index, LoraState::Patch& p, std::unique_ptr<PrivateRange>* keep) {
  touch(index);
  if (!p.range) return reload_copy(index);
  // MADV_DONTNEED drops the private pages: the range reads as the file again.
  if (Status s = p.range->revert(); !s) return tensor_error(index, s.error().message);
  m_.redirect_mapped(index, p.original);
  if (keep) *keep = std::move(p.range);
  p.range.reset();
  return {};
}

// A copied or converted tensor: the file's bytes again, converted as the
// load did, so it equals what a fresh load gives.
Status LoraApplier::reload_copy(size_t index) {
  if (Status s = m_.wait_ready(index); !s) return s;
  const Tensor& t = m_.tensors()[index];
  // Plain ranges, PyTorch views and deflated entries alike (load/tensor_source.h).
  auto bytes = TensorSource(m_.table(), m_.files(), IoMode::kRead, Logger()).read_all(index, t.dtype);
  if (!bytes) return bytes.error();
  const std::vector<std::byte>& raw = bytes.value();
  if (!t.on_device) {
    std::memcpy(m_.writable_bytes(index).data(), raw.data(), t.nbytes);
    return {};
  }
  return upload_whole(index, raw);
}

Status LoraApplier::remove(std::vector<size_t>* moved) {
  if (!m_.lora_state()) return {};
  const std::vector<const std::byte*> before = host_pointers(m_.tensors());
  Status first;
  for (auto& [index, p] : m_.lora_state()->patched)
    if (Status s = restore(index, p, nullptr); !s && first) first = s;
  m_.set_lora_state(nullptr);
  std::vector<size_t> moved_now, changed;
  finish_generation(before, moved_now, changed);
  if (moved) *moved = std::move(moved_now);
  return first;
}

// --- entry points ------------------------------------------------------------

Result<LoraReport> apply_loras(LoadedModel& model, const std::vector<LoraSpec>& loras, const LoraOptions& options) {
  // A LoRA's factors are for the whole tensor; slicing them to match is not built yet.
  for (const TensorInfo& t : model.table().tensors())
    if (t.slice.dim != SliceDim::kNone)
      return Error{{}, t.qualified_name(), {}, "LoRA on a tensor-parallel slice is not supported: merge the LoRA "
                   "first (weightmap convert --lora), then shard", ErrorCode::kUnsupported};
  try {
    return LoraApplier(model).apply(loras, options);
  } catch (const std::bad_alloc&) {
    (void)LoraApplier(model).remove();
    return Error{{}, {}, {}, "out of memory while applying LoRAs", ErrorCode::kOutOfMemory};
  }
}

Result<std::vector<size_t>> remove_loras(LoadedModel& model) {
  std::vector<size_t> moved;
  if (Status s = LoraApplier(model).remove(&moved); !s) return s.error();
  return moved;
}

const std::vector<LoraTerm>& lora_terms(const LoadedModel& model, size_t index) {
  static const std::vector<LoraTerm> kNone;
  const LoraState* state = LoraApplier::state(model);
  if (!state) return kNone;
  auto it = state->runtime.find(index);
  return it == state->runtime.end() ? kNone : it->second;
}

const LoraReport* lora_report(const LoadedModel& model) {
  const LoraState* state = LoraApplier::state(model);
  return state ? &state->report : nullptr;
}

}  // namespace wm
