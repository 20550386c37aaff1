#include "format/tensor_stream_writer.h"

#include <algorithm>
#include <fmt/format.h>

namespace wm {

TensorStreamWriter::TensorStreamWriter(std::string path, TensorFileLayout layout, AtomicFileWriter out)
    : path_(std::move(path)), layout_(std::move(layout)), out_(std::move(out)) {}

Result<TensorStreamWriter> TensorStreamWriter::create(const std::string& path, TensorFileLayout layout) {
  if (layout.names.size() != layout.sizes.size())
    return Error{path, {}, {}, fmt::format("layout has {} names but {} sizes", layout.names.size(), layout.sizes.size())};
  if (layout.alignment == 0) return Error{path, {}, {}, "alignment 0"};
  auto out = AtomicFileWriter::create(path);
  if (!out) return out.error();
  if (Status s = out->write(layout.header); !s) return s.error();
  TensorStreamWriter w(path, std::move(layout), std::move(out.value()));
  if (Status s = w.finish_completed(); !s) return s.error();  // leading empty tensors
  return w;
}

Status TensorStreamWriter::finish_completed() {
  const auto& sizes = layout_.sizes;
  while (current_ < sizes.size() && done_in_current_ == sizes[current_]) {
    uint64_t size = sizes[current_];
    if (current_ + 1 < sizes.size()) {
      uint64_t a = layout_.alignment;
      if (Status s = out_.write_zeros((a - size % a) % a); !s) return s;
    }
    ++current_;
    done_in_current_ = 0;
  }
  return {};
}

Status TensorStreamWriter::append(std::span<const std::byte> bytes) {
  if (bytes.empty()) return {};
  if (current_ >= layout_.sizes.size())
    return Error{path_, {}, out_.bytes_written(), fmt::format("{} bytes after the last tensor", bytes.size())};
  uint64_t left = layout_.sizes[current_] - done_in_current_;
  if (bytes.size() > left)
    return Error{path_, layout_.names[current_], out_.bytes_written(),
                 fmt::format("{} bytes given where {} remain of the tensor", bytes.size(), left)};
  if (Status s = out_.write(bytes); !s) return s;
  done_in_current_ += bytes.size();
  return finish_completed();
}

Status TensorStreamWriter::append(const TensorData& data, std::vector<std::byte>& chunk) {
  if (current_ >= layout_.sizes.size()) return Error{path_, {}, out_.bytes_written(), "data after the last tensor"};
  if (!data.fill) return Error{path_, layout_.names[current_], {}, "no data given for the tensor"};
  if (chunk.empty()) chunk.resize(8 << 20);
  size_t tensor = current_;
  uint64_t nbytes = layout_.sizes[tensor];
  for (uint64_t done = 0; done < nbytes;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(chunk.size(), nbytes - done));
    data.fill(done, {chunk.data(), n});
    if (Status s = append({chunk.data(), n}); !s) return s;
    done += n;
  }
  return {};
}

Status TensorStreamWriter::commit() {
  if (current_ < layout_.sizes.size())
    return Error{path_, layout_.names[current_], out_.bytes_written(),
                 fmt::format("incomplete: {} of {} bytes written", done_in_current_, layout_.sizes[current_])};
  return out_.commit();
}

Status write_tensors_and_commit(TensorStreamWriter& w, const std::vector<const TensorData*>& data) {
  const TensorFileLayout& l = w.layout();
  if (data.size() != l.sizes.size())
    return Error{w.path(), {}, {}, fmt::format("data for {} tensors given for {}", data.size(), l.sizes.size())};
  std::vector<std::byte> chunk;
  for (size_t k = 0; k < data.size(); ++k) {
    if (!data[k]->fill) return Error{w.path(), l.names[k], {}, "no data given for the tensor"};
    if (l.sizes[k] == 0) continue;  // nothing to write; the stream has moved past it already
    if (Status s = w.append(*data[k], chunk); !s) return s;
  }
  return w.commit();
}

}  // namespace wm
