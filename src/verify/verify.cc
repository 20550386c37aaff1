#include "verify/verify.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <memory>
#include <optional>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "io/file.h"
#include "io/sigbus_guard.h"
#include "lora/apply.h"
#include "load/tensor_source.h"
#include "verify/verify_reference.h"

namespace wm {
namespace {

class Hasher {
 public:
  Hasher() { XXH3_64bits_reset(&state_); }
  void add(const void* p, uint64_t n) { XXH3_64bits_update(&state_, p, n); }
  uint64_t digest() const { return XXH3_64bits_digest(&state_); }

 private:
  XXH3_state_t state_;
};

class Verifier {
 public:
  Verifier(const LoadedModel& model, const VerifyOptions& options) : model_(model), options_(options) {
    files_.resize(model.table().files().size());
    if (const LoraReport* lora = lora_report(model))
      for (const auto& t : lora->tensors)
        if (t.action == LoraAction::kPatched) lora_patched_.push_back(t.tensor);
  }

  Status run(size_t index, TensorVerdict& v) {
    const Tensor& t = model_.tensors()[index];
    const TensorInfo& src = model_.table().tensors()[index];
    v.index = index;
    v.name = t.name;
    if (std::find(lora_patched_.begin(), lora_patched_.end(), index) != lora_patched_.end()) {
      v.check = VerifyCheck::kSkipped;
      v.detail = "patched by a LoRA: its bytes differ from the file on purpose";
      return {};
    }
    if (t.dtype != src.dtype && !(reference::can_decode(src.dtype) && reference::can_target(t.dtype))) {
      v.check = VerifyCheck::kSkipped;
      v.detail = fmt::format("no reference conversion from {} to {}", dtype_name(src.dtype), dtype_name(t.dtype));
      options_.log.warn(fmt::format("verify: tensor '{}' not checked: {}", t.name, v.detail));
      return {};
    }
    if (Status st = open_file(src.file); !st) return st;
    return t.dtype == src.dtype ? compare_bytes(t, src, v) : compare_values(t, src, v);
  }

 private:
  // Verify opens the files itself (by path): the bytes it compares with do
  // not come through the descriptors the load used.
  Status open_file(uint32_t index) {
    if (files_[index]) return {};
    auto f = File::open(model_.table().files()[index].path);
    if (!f) return f.error();
    files_[index] = std::make_shared<const File>(std::move(f.value()));
    source_.emplace(model_.table(), files_, IoMode::kRead, options_.log);
    return {};
  }

  // The file's bytes [at, at + out.size()) of tensor `index` (a block
  // multiple for plain tensors and slices); views and deflated entries (PyTorch
  // checkpoints) are gathered or inflated whole first.
  Status file_bytes(size_t index, const TensorInfo& src, uint64_t at, std::span<std::byte> out) {
    if (!src.source.whole_only()) {  // plain ranges and gathered slices read in blocks
      const uint64_t block = dtype_info(src.dtype).block_bytes;
      return source_->read(worker_, index, src.dtype, at / block, out.size() / block, out);
    }
    if (whole_for_ != &src) {
      auto whole = source_->read_all(index, src.dtype);
      if (!whole) return whole.error();
      whole_ = std::move(whole.value());
      whole_for_ = &src;
    }
    std::memcpy(out.data(), whole_.data() + at, out.size());
    return {};
  }

  // The loaded bytes [offset, offset + n) of tensor `index`: in place, or
  // downloaded. Mapped bytes are copied out under a SIGBUS guard: a file
  // truncated under the mapping is an error here, not a crash.
  Result<const std::byte*> loaded(size_t index, uint64_t offset, uint64_t n) {
    const Tensor& t = model_.tensors()[index];
    if (t.placement == Placement::kMap) {
      copy_buf_.resize(n);
      if (const std::byte* fault = guarded_copy(copy_buf_.data(), t.host_data + offset, n))
        return model_.mapped_fault(index, fault, "verify");
      return copy_buf_.data();
    }
    if (t.host_data) return t.host_data + offset;
    copy_buf_.resize(n);
    if (Status s = model_.read_bytes(index, offset, copy_buf_.data(), n); !s) return s.error();
    return copy_buf_.data();
  }

  Status check_bytes_exist(const Tensor& t) const {
    if (!t.on_device && t.host_data == nullptr && t.nbytes > 0)
      return Error{{}, t.name, {}, "verify: tensor has no bytes in host memory"};
    return {};
  }

  Status compare_bytes(const Tensor& t, const TensorInfo& src, TensorVerdict& v) {
    v.check = VerifyCheck::kBytes;
    if (Status st = check_bytes_exist(t); !st) return st;
    if (t.nbytes != src.nbytes) {
      v.ok = false;
      v.detail = fmt::format("holds {} bytes, the file {}", t.nbytes, src.nbytes);
      return {};
    }
    Hasher loaded_hash, file_hash;
    std::optional<uint64_t> first_diff;
    // Whole blocks: a plain tensor's file bytes are read in blocks.
    const uint64_t block = dtype_info(src.dtype).block_bytes;
    const uint64_t chunk = std::max<uint64_t>(options_.chunk_bytes / block, 1) * block;
    for (uint64_t at = 0; at < t.nbytes; at += chunk) {
      uint64_t n = std::min(chunk, t.nbytes - at);
      auto in = loaded(v.index, at, n);  // first: a truncated mapping is named as such
      if (!in) return in.error();
      const std::byte* got = *in;
      file_buf_.resize(n);
      if (Status st = file_bytes(v.index, src, at, file_buf_); !st) return st;
      loaded_hash.add(got, n);
      file_hash.add(file_buf_.data(), n);
      if (!first_diff && std::memcmp(got, file_buf_.data(), n) != 0)
        for (uint64_t k = 0; k < n; ++k)
          if (got[k] != file_buf_[k]) {
            first_diff = at + k;
            break;
          }
    }
    bytes_ += t.nbytes;
    v.loaded_xxh3 = loaded_hash.digest();
    v.file_xxh3 = file_hash.digest();
    v.ok = v.loaded_xxh3 == v.file_xxh3 && !first_diff;
    if (!v.ok)
      v.detail = first_diff ? fmt::format("bytes differ from the file from tensor byte {} (file byte {})", *first_diff,
                                          src.offset + *first_diff)
                            : "byte hashes differ from the file";
    return {};
  }

  Status compare_values(const Tensor& t, const TensorInfo& src, TensorVerdict& v) {
    v.check = VerifyCheck::kValues;
    if (Status st = check_bytes_exist(t); !st) return st;
    const DTypeInfo& from = dtype_info(src.dtype);
    const DTypeInfo& to = dtype_info(t.dtype);
    uint64_t total = src.nbytes / from.block_bytes * from.block_elems;
    if (t.nbytes != total * to.block_bytes) {
      v.ok = false;
      v.detail = fmt::format("holds {} bytes, {} elements of {} need {}", t.nbytes, total, dtype_name(t.dtype),
                             total * to.block_bytes);
      return {};
    }
    uint64_t elems_per_chunk = std::max<uint64_t>(1, options_.chunk_bytes / from.block_bytes) * from.block_elems;
    Hasher loaded_hash, reference_hash;
    std::vector<double> want;
    std::vector<std::byte> ref_bytes;
    for (uint64_t e = 0; e < total; e += elems_per_chunk) {
      uint64_t n = std::min(elems_per_chunk, total - e);
      file_buf_.resize(n / from.block_elems * from.block_bytes);
      if (Status st = file_bytes(v.index, src, e / from.block_elems * from.block_bytes, file_buf_); !st) return st;
      want.clear();
      reference::decode(src.dtype, file_buf_.data(), n, want);
      auto in = loaded(v.index, e * to.block_bytes, n * to.block_bytes);
      if (!in) return in.error();
      const std::byte* got = *in;
      loaded_hash.add(got, n * to.block_bytes);
      for (uint64_t k = 0; k < n; ++k) {
        double expect = reference::round_to(want[k], t.dtype);
        double have = reference::value_at(t.dtype, got, k);
        reference_hash.add(&expect, sizeof expect);
        if (!reference::same_value(have, expect) && v.bad_values++ == 0)
          v.detail = fmt::format("element {}: loaded {}, the reference conversion of the file's {} gives {}", e + k,
                                 have, want[k], expect);
      }
    }
    bytes_ += t.nbytes;
    v.loaded_xxh3 = loaded_hash.digest();
    v.file_xxh3 = reference_hash.digest();
    v.ok = v.bad_values == 0;
    if (!v.ok) v.detail = fmt::format("{} of {} values differ; first: {}", v.bad_values, total, v.detail);
    return {};
  }

 public:
  uint64_t bytes() const { return bytes_; }

 private:
  const LoadedModel& model_;
  const VerifyOptions& options_;
  std::vector<std::shared_ptr<const File>> files_;  // opened as tensors need them
  std::optional<TensorSource> source_;              // over files_, remade when one opens
  TensorSource::Worker worker_;
  std::vector<size_t> lora_patched_;
  std::vector<std::byte> file_buf_, copy_buf_;
  const TensorInfo* whole_for_ = nullptr;  // the tensor whose bytes `whole_` holds
  std::vector<std::byte> whole_;
  uint64_t bytes_ = 0;
};

// A mapped file changed since the load: its mapping and the file are no
// longer two views of one thing. A file only copied from is compared anyway
// (the verdicts then name the tensors whose copies differ from it), with a
// warning when `log` is given.
Status check_mapped_files(const LoadedModel& model, const Logger* log) {
  for (size_t f = 0; f < model.table().files().size(); ++f)
    if (Status s = model.check_file(f); !s) {
      if (model.file_mapped(f)) return s;
      if (log) log->warn(fmt::format("verify: {}; comparing the loaded copies with it anyway", s.error().to_string()));
    }
  return {};
}

Error with_file(Error e, const LoadedModel& model, size_t index) {
  const Tensor& t = model.tensors()[index];
  if (e.file.empty() && t.file < model.table().files().size()) e.file = model.table().files()[t.file].path;
  if (e.tensor.empty()) e.tensor = t.name;
  if (!e.offset) e.offset = t.file_offset;
  return e;
}

}  // namespace

const char* verify_check_name(VerifyCheck c) {
  switch (c) {
    case VerifyCheck::kBytes: return "bytes";
    case VerifyCheck::kValues: return "values";
    case VerifyCheck::kSkipped: return "skipped";
  }
  return "?";
}

Result<VerifyReport> verify_model(const LoadedModel& model, const VerifyOptions& options) {
  auto t0 = std::chrono::steady_clock::now();
  if (model.table().tensors().size() != model.tensors().size())
    return Error{{}, {}, {}, "verify: the model's tensors do not match its parsed table (released model?)"};
  if (Status s = check_mapped_files(model, &options.log); !s) return s.error();
  VerifyReport report;
  Verifier verifier(model, options);
  uint64_t total = 0;
  for (const auto& t : model.tensors()) total += t.nbytes;
  for (size_t i = 0; i < model.tensors().size(); ++i) {
    if (Status ready = model.wait_ready(i); !ready) return ready.error();
    TensorVerdict v;
    if (Status st = verifier.run(i, v); !st) return with_file(st.error(), model, i);
    report.failed += !v.ok;
    report.skipped += v.check == VerifyCheck::kSkipped;
    if (!v.ok) options.log.warn(fmt::format("verify: tensor '{}' differs from its file: {}", v.name, v.detail));
    report.tensors.push_back(std::move(v));
    if (options.progress) options.progress(verifier.bytes(), total);
  }
  // As in the compute pass: a mapped file changed while this ran makes the verdicts meaningless.
  if (Status s = check_mapped_files(model, nullptr); !s) return s.error();
  report.bytes_compared = verifier.bytes();
  report.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace wm
