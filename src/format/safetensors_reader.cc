#include "format/safetensors_reader.h"

#include <algorithm>
#include <fmt/format.h>
#include <numeric>
#include <simdjson.h>
#include <unordered_set>

namespace wm {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

constexpr uint64_t kHeaderStart = 8;

class SafetensorsHeaderParser {
 public:
  SafetensorsHeaderParser(std::string_view json, uint64_t data_bytes, const std::string& name)
      : json_(json), data_bytes_(data_bytes), name_(name) {}

  TensorTable parse() {
    FileInfo file;
    file.path = name_;
    file.format = FileFormat::kSafetensors;
    file.data_offset = kHeaderStart + json_.size();
    file.size = file.data_offset + data_bytes_;
    file.alignment = 1;  // safetensors promises no alignment

    simdjson::dom::parser parser;
    element doc;
    if (auto err = parser.parse(json_.data(), json_.size()).get(doc))
      fail({}, kHeaderStart, fmt::format("header is not valid JSON: {}", simdjson::error_message(err)));
    object root;
    if (doc.get_object().get(root)) fail({}, kHeaderStart, "header is not a JSON object");

    std::vector<TensorInfo> tensors;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;  // relative [begin, end)
    std::unordered_set<std::string_view> names;
    bool seen_metadata = false;
    for (auto field : root) {
      std::string_view key = field.key;
      if (key == "__metadata__") {
        if (seen_metadata) fail({}, locate_again(key), "duplicate key \"__metadata__\"");
        seen_metadata = true;
        read_metadata(field.value, file.metadata);
        continue;
      }
      if (!names.insert(key).second) fail(key, locate_again(key), "duplicate tensor name");
      auto [t, range] = read_tensor(key, field.value);
      t.offset = file.data_offset + range.first;
      tensors.push_back(std::move(t));
      ranges.push_back(range);
    }
    check_contiguous(tensors, ranges, file.data_offset);
    TensorTable table;
    table.add_file(std::move(file));
    table.reserve_tensors(tensors.size());
    for (auto& t : tensors) table.add_tensor(std::move(t));
    return table;
  }

 private:
  [[noreturn]] void fail(std::string_view tensor, uint64_t at, std::string message) const {
    throw ParseFailure{Error{name_, std::string(tensor), at, std::move(message)}};
  }

  // Approximate file offset of a key in the header, for error messages.
  uint64_t locate(std::string_view key, size_t from = 0) const {
    std::string quoted = fmt::format("\"{}\"", key);
    size_t p = json_.find(quoted, from);
    return kHeaderStart + (p == std::string_view::npos ? 0 : p);
  }
  // Approximate file offset of the second occurrence of a key.
  uint64_t locate_again(std::string_view key) const { return locate(key, locate(key) - kHeaderStart + 1); }

  void read_metadata(element value, Metadata& out) {
    object obj;
    if (value.get_object().get(obj)) fail({}, locate("__metadata__"), "__metadata__ is not an object of strings");
    std::unordered_set<std::string_view> keys;
    for (auto field : obj) {
      // JSON readers disagree on duplicates (simdjson: first, Python: last):
      // refuse them, so every reader sees the same file.
      if (!keys.insert(field.key).second)
        fail({}, locate_again(field.key), fmt::format("__metadata__ holds key '{}' twice", field.key));
      std::string_view s;
      if (field.value.get_string().get(s))
        fail({}, locate(field.key), fmt::format("__metadata__ value for '{}' is not a string", field.key));
      out.emplace_back(std::string(field.key), MetaValue::str(std::string(s)));
    }
  }

  uint64_t read_u64(element e, std::string_view tensor, const char* what) {
    uint64_t v;
    if (e.get_uint64().get(v)) fail(tensor, locate(tensor), fmt::format("{} is not a non-negative integer", what));
    return v;
  }

  std::pair<TensorInfo, std::pair<uint64_t, uint64_t>> read_tensor(std::string_view name, element value) {
    // Where the entry is, for errors only: locating it costs a search of the header.
    auto where = [&] { return locate(name); };
    object obj;
    if (value.get_object().get(obj)) fail(name, where(), "entry is not an object");
    std::unordered_set<std::string_view> fields;  // duplicates: refused, as the reference reader does
    for (auto field : obj)
      if (!fields.insert(field.key).second)
        fail(name, where(), fmt::format("entry holds field \"{}\" twice", field.key));
    std::string_view dtype_s;
    if (obj["dtype"].get_string().get(dtype_s)) fail(name, where(), "missing or non-string \"dtype\"");
    auto dtype = dtype_from_safetensors_name(dtype_s);
    if (!dtype) fail(name, where(), fmt::format("unknown dtype \"{}\"", dtype_s));

    array shape_a;
    if (obj["shape"].get_array().get(shape_a)) fail(name, where(), "missing or non-array \"shape\"");
    if (shape_a.size() > kSafetensorsMaxDims)
      fail(name, where(), fmt::format("{} dimensions; at most {} are supported", shape_a.size(), kSafetensorsMaxDims));
    TensorInfo t;
    t.name = std::string(name);
    t.dtype = *dtype;
    for (element d : shape_a) t.shape.push_back(read_u64(d, name, "a shape dimension"));

    array offs;
    if (obj["data_offsets"].get_array().get(offs) || offs.size() != 2)
      fail(name, where(), "missing \"data_offsets\" or it is not [begin, end]");
    uint64_t begin = read_u64(offs.at(0).value_unsafe(), name, "data_offsets[0]");
    uint64_t end = read_u64(offs.at(1).value_unsafe(), name, "data_offsets[1]");
    if (end < begin) fail(name, where(), fmt::format("data_offsets [{}, {}] end before begin", begin, end));
    if (end > data_bytes_)
      fail(name, where(), fmt::format("data_offsets [{}, {}] run past the data section ({} bytes)", begin, end, data_bytes_));

    SizeOrReason size = tensor_nbytes(t.dtype, t.shape);
    if (!size.nbytes) fail(name, where(), fmt::format("shape is invalid for {}: {}", dtype_s, size.reason));
    if (*size.nbytes != end - begin)
      fail(name, where(),
           fmt::format("shape x dtype size is {} bytes but data_offsets [{}, {}] hold {}", *size.nbytes, begin, end,
                       end - begin));
    t.nbytes = *size.nbytes;
    return {std::move(t), {begin, end}};
  }

  // The data section must be covered exactly: starting at 0, each tensor
  // beginning where the previous ended, the last ending at the file's end.
  void check_contiguous(const std::vector<TensorInfo>& tensors,
                        const std::vector<std::pair<uint64_t, uint64_t>>& ranges, uint64_t data_offset) {
    std::vector<size_t> order(ranges.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ranges[a] < ranges[b]; });
    uint64_t expected = 0;
    std::string_view prev = "start of the data section";
    for (size_t i : order) {
      auto [begin, end] = ranges[i];
      const std::string& name = tensors[i].name;
      if (begin < expected)
        fail(name, data_offset + begin, fmt::format("data [{}, {}) overlaps '{}' which ends at {}", begin, end, prev, expected));
      if (begin > expected)
        fail(name, data_offset + expected,
             fmt::format("hole of {} bytes between '{}' and this tensor (data_offsets must be contiguous)",
                         begin - expected, prev));
      expected = end;
      prev = name;
    }
    if (expected != data_bytes_)
      fail({}, data_offset + expected,
           fmt::format("{} bytes after the last tensor are not covered by any tensor", data_bytes_ - expected));
  }

  std::string_view json_;
  uint64_t data_bytes_;
  const std::string& name_;
};

}  // namespace

Result<TensorTable> parse_safetensors_header(std::string_view json, uint64_t data_bytes, const std::string& file_name) {
  try {
    return SafetensorsHeaderParser(json, data_bytes, file_name).parse();
  } catch (const ParseFailure& f) {
    return f.error;
  } catch (const std::bad_alloc&) {
    return Error{file_name, {}, kHeaderStart, "out of memory while parsing the safetensors header"};
  }
}

Result<TensorTable> parse_safetensors(const ByteSource& src) {
  const std::string& name = src.name();
  uint64_t size = src.size();
  if (size == 0) return Error{name, {}, 0, "empty file (0 bytes); expected a safetensors header"};
  if (size < kHeaderStart)
    return Error{name, {}, 0, fmt::format("truncated: {} bytes, too short for the 8-byte header length", size)};
  uint64_t n = 0;
  if (Status s = src.read(0, {reinterpret_cast<std::byte*>(&n), sizeof n}); !s) return s.error();
  if (n == 0) return Error{name, {}, 0, "header length is 0; expected a JSON header"};
  if (n > kSafetensorsMaxHeader)
    return Error{name, {}, 0, fmt::format("header length {} exceeds the {} byte cap", n, kSafetensorsMaxHeader)};
  if (n > size - kHeaderStart)
    return Error{name, {}, 0,
                 fmt::format("header length {} runs past the end of the file ({} bytes after the length)", n,
                             size - kHeaderStart)};
  std::string json(n, '\0');
  if (Status s = src.read(kHeaderStart, {reinterpret_cast<std::byte*>(json.data()), n}); !s) return s.error();
  if (json.front() != '{') return Error{name, {}, kHeaderStart, "header does not start with '{'"};
  auto table = parse_safetensors_header(json, size - kHeaderStart - n, name);
  if (table) table->mutable_file(0).identity = src.identity();
  return table;
}

}  // namespace wm
