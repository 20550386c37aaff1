// wm::Model: the public face of a LoadedModel. A released (or moved-from)
// Model has no Impl; every method then answers as for an empty model.
#include <fmt/format.h>

#include "api/model_access.h"
#include "api/report_json.h"
#include "common/error.h"
#include "lora/apply.h"

namespace wm {
namespace {

const std::vector<Tensor> kNoTensors;
const std::vector<DeviceCaps> kNoDevices;
const std::vector<LoraTerm> kNoTerms;
const std::string kNoPath;

Error released_error() {
  return Error{{}, {}, {}, "the model was released (or moved from)", ErrorCode::kInvalidArgument};
}

}  // namespace

Model::Model() = default;
Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;  // LoadedModel's destructor releases
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

const std::vector<Tensor>& Model::tensors() const { return impl_ ? impl_->loaded.tensors() : kNoTensors; }

const Tensor* Model::find(std::string_view name) const { return impl_ ? impl_->loaded.find(name) : nullptr; }

std::optional<size_t> Model::index_of(std::string_view name) const {
  const Tensor* t = find(name);
  if (!t) return std::nullopt;
  return static_cast<size_t>(t - tensors().data());
}

Status Model::wait_ready(size_t index) const {
  if (!impl_) return released_error();
  if (index >= size())
    return Error{{}, {}, {}, fmt::format("tensor index {} is out of range ({} tensors)", index, size()),
                 ErrorCode::kInvalidArgument};
  Status s = impl_->loaded.wait_ready(index);
  return s ? s : Status(with_code(s.error(), ErrorCode::kIo));
}

const std::vector<DeviceCaps>& Model::devices() const { return impl_ ? impl_->loaded.devices() : kNoDevices; }

Device& Model::device(size_t index) const {
  if (!impl_ || index >= devices().size())
    throw std::out_of_range(fmt::format("wm::Model::device({}): {} devices", index, devices().size()));
  return impl_->loaded.device(index);
}

size_t Model::file_count() const { return impl_ ? impl_->loaded.table().files().size() : 0; }

const std::string& Model::file_path(size_t file) const {
  return file < file_count() ? impl_->loaded.table().files()[file].path : kNoPath;
}

Status Model::check_files() const {
  if (!impl_) return released_error();
  Status s = impl_->loaded.check_files();
  return s ? s : Status(with_code(s.error(), ErrorCode::kChangedOnDisk));
}

Status Model::check_file(size_t file) const {
  if (!impl_) return released_error();
  if (file >= file_count())
    return Error{{}, {}, {}, fmt::format("file index {} is out of range ({} files)", file, file_count()),
                 ErrorCode::kInvalidArgument};
  Status s = impl_->loaded.check_file(file);
  return s ? s : Status(with_code(s.error(), ErrorCode::kChangedOnDisk));
}

LoadReport Model::report() const { return impl_ ? impl_->loaded.report() : LoadReport{}; }

std::string Model::report_json(bool per_tensor) const {
  return impl_ ? load_report_json(impl_->loaded, per_tensor) : std::string("{}");
}

Result<LoraReport> Model::apply_loras(const std::vector<LoraSpec>& loras, const LoraOptions& options) {
  if (!impl_) return released_error();
  auto r = wm::apply_loras(impl_->loaded, loras, options);
  if (r) return r;
  return with_code(r.error(), ErrorCode::kBadFormat);
}

Result<std::vector<size_t>> Model::remove_loras() {
  if (!impl_) return released_error();
  return wm::remove_loras(impl_->loaded);
}

const std::vector<LoraTerm>& Model::lora_terms(size_t index) const {
  return impl_ ? wm::lora_terms(impl_->loaded, index) : kNoTerms;
}

const LoraReport* Model::lora_report() const { return impl_ ? wm::lora_report(impl_->loaded) : nullptr; }

uint64_t Model::generation() const { return impl_ ? impl_->loaded.generation() : 0; }

Status Model::release(bool evict) {
  if (!impl_) return {};
  Status s = impl_->loaded.release(evict);
  impl_.reset();
  return s;
}

bool Model::released() const { return !impl_; }

}  // namespace wm
