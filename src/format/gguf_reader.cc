#include "format/gguf_reader.h"

#include <algorithm>
#include <fmt/format.h>
#include <unordered_set>

#include "format/header_cursor.h"
#include "format/parsed_file.h"

namespace wm {
namespace {

// Limits that keep a hostile header from costing more than a real one ever
// needs: the largest real vocabularies hold ~1.5M metadata values in total.
constexpr uint64_t kMaxKeyLen = 64 * 1024;
constexpr uint64_t kMaxStringLen = 64ull << 20;
constexpr uint64_t kMaxTensorNameLen = 64 * 1024;
constexpr uint64_t kMaxMetadataValues = 4'000'000;
constexpr int kMaxArrayDepth = 8;
constexpr uint64_t kMaxReserve = 4096;  // elements reserved up front from an unverified count

class GgufParser {
 public:
  GgufParser(const ByteSource& src, const GgufOptions& options) : cur_(src), options_(options) {}

  TensorTable parse() {
    FileInfo file;
    file.path = cur_.source().name();
    file.format = FileFormat::kGguf;
    file.size = cur_.source().size();
    file.identity = cur_.source().identity();
    if (file.size == 0) cur_.fail("empty file (0 bytes); expected a GGUF header");

    auto magic = cur_.read<uint32_t>("magic");
    if (magic != kGgufMagic) cur_.fail_at(0, fmt::format("wrong magic 0x{:08x}; expected \"GGUF\"", magic));
    uint64_t at = cur_.pos();
    auto version = cur_.read<uint32_t>("version");
    if (version == 1) cur_.fail_at(at, "GGUF v1 is not supported (re-convert the model; v2 and v3 are)");
    if (version == 0x02000000 || version == 0x03000000)
      cur_.fail_at(at, "big-endian GGUF is not supported on this little-endian host");
    if (version != 2 && version != 3) cur_.fail_at(at, fmt::format("unsupported GGUF version {}; expected 2 or 3", version));
    file.version = version;

    at = cur_.pos();
    auto n_tensors = cur_.read<uint64_t>("tensor count");
    // A tensor info takes at least 24 bytes (name length, dim count, type, offset).
    if (n_tensors > cur_.remaining() / 24)
      cur_.fail_at(at, fmt::format("tensor count {} cannot fit in the {} bytes left", n_tensors, cur_.remaining()));
    at = cur_.pos();
    auto n_kv = cur_.read<uint64_t>("metadata count");
    // A key/value takes at least 13 bytes (key length, value type, one byte).
    if (n_kv > cur_.remaining() / 13)
      cur_.fail_at(at, fmt::format("metadata count {} cannot fit in the {} bytes left", n_kv, cur_.remaining()));
    // Every key/value holds at least one value; a larger count can only fail later,
    // after costing memory in proportion to the (possibly huge) file.
    if (n_kv > kMaxMetadataValues)
      cur_.fail_at(at, fmt::format("metadata count {} exceeds the limit of {} values", n_kv, kMaxMetadataValues));

    file.alignment = kGgufDefaultAlignment;
    std::unordered_set<std::string> keys;
    // Counts are only bounded by the file's size: never reserve more than a
    // small amount up front on their word.
    file.metadata.reserve(std::min<uint64_t>(n_kv, kMaxReserve));
    for (uint64_t k = 0; k < n_kv; ++k) {
      uint64_t kv_at = cur_.pos();
      std::string key = cur_.read_string("metadata key", kMaxKeyLen);
      if (!keys.insert(key).second) cur_.fail_at(kv_at, fmt::format("duplicate metadata key '{}'", key));
      MetaValue value = read_typed_value(key, 0);
      if (key == "general.alignment") file.alignment = check_alignment(value, kv_at);
      file.metadata.emplace_back(std::move(key), std::move(value));
    }

    std::vector<TensorInfo> tensors;
    tensors.reserve(std::min<uint64_t>(n_tensors, kMaxReserve));
    std::vector<uint64_t> info_at;
    info_at.reserve(std::min<uint64_t>(n_tensors, kMaxReserve));
    // Names are checked as they are read, so that a long run of identical
    // (e.g. zero-filled) tensor infos fails at the second one.
    std::unordered_set<std::string> names;
    for (uint64_t k = 0; k < n_tensors; ++k) {
      info_at.push_back(cur_.pos());
      tensors.push_back(read_tensor_info());
      if (!names.insert(tensors.back().name).second)
        cur_.fail_at(info_at.back(), "duplicate tensor name", tensors.back().name);
    }

    uint64_t end_of_infos = cur_.pos();
    uint64_t pad = (file.alignment - end_of_infos % file.alignment) % file.alignment;
    file.data_offset = end_of_infos + pad;

    for (size_t k = 0; k < tensors.size(); ++k) {
      TensorInfo& t = tensors[k];
      if (t.offset % file.alignment != 0)
        cur_.fail_at(info_at[k],
                     fmt::format("data offset {} is not a multiple of the file's alignment {}", t.offset,
                                 file.alignment),
                     t.name);
      if (t.offset > UINT64_MAX - file.data_offset)
        cur_.fail_at(info_at[k], fmt::format("data offset {} overflows", t.offset), t.name);
      t.offset += file.data_offset;
    }
    check_tensor_ranges(file, tensors);
    TensorTable table;
    table.add_file(std::move(file));
    table.reserve_tensors(tensors.size());
    for (auto& t : tensors) table.add_tensor(std::move(t));
    return table;
  }

 private:
  uint32_t check_alignment(const MetaValue& v, uint64_t at) {
    if (v.type != MetaType::U32)
      cur_.fail_at(at, fmt::format("general.alignment has type {}; expected u32", meta_type_name(v.type)));
    uint64_t a = std::get<uint64_t>(v.v);
    if (a == 0 || (a & (a - 1)) != 0)
      cur_.fail_at(at, fmt::format("general.alignment {} is not a power of two", a));
    return static_cast<uint32_t>(a);
  }

  MetaType read_value_type(const std::string& key) {
    uint64_t at = cur_.pos();
    auto t = cur_.read<uint32_t>("metadata value type");
    if (t >= kMetaTypeCount) cur_.fail_at(at, fmt::format("unknown value type {} for metadata key '{}'", t, key));
    return static_cast<MetaType>(t);
  }

  MetaValue read_typed_value(const std::string& key, int depth) {
    return read_value(read_value_type(key), key, depth);
  }

  void count_value(const std::string& key) {
    if (++n_values_ > kMaxMetadataValues)
      cur_.fail(fmt::format("metadata holds more than {} values (at key '{}'); refusing to allocate more",
                            kMaxMetadataValues, key));
  }

  MetaValue read_value(MetaType type, const std::string& key, int depth) {
    count_value(key);
    switch (type) {
      case MetaType::U8: return MetaValue::u(type, cur_.read<uint8_t>("u8 value"));
      case MetaType::I8: return MetaValue::i(type, cur_.read<int8_t>("i8 value"));
      case MetaType::U16: return MetaValue::u(type, cur_.read<uint16_t>("u16 value"));
      case MetaType::I16: return MetaValue::i(type, cur_.read<int16_t>("i16 value"));
      case MetaType::U32: return MetaValue::u(type, cur_.read<uint32_t>("u32 value"));
      case MetaType::I32: return MetaValue::i(type, cur_.read<int32_t>("i32 value"));
      case MetaType::U64: return MetaValue::u(type, cur_.read<uint64_t>("u64 value"));
      case MetaType::I64: return MetaValue::i(type, cur_.read<int64_t>("i64 value"));
      case MetaType::F32: return MetaValue::f(type, cur_.read<float>("f32 value"));
      case MetaType::F64: return MetaValue::f(type, cur_.read<double>("f64 value"));
      case MetaType::BOOL: {
        uint64_t at = cur_.pos();
        auto b = cur_.read<uint8_t>("bool value");
        if (b > 1) cur_.fail_at(at, fmt::format("bool value {} for key '{}' is not 0 or 1", b, key));
        return MetaValue::u(type, b);
      }
      case MetaType::STRING: return MetaValue::str(cur_.read_string("string value", kMaxStringLen));
      case MetaType::ARRAY: return read_array(key, depth);
    }
    cur_.fail(fmt::format("unknown value type for key '{}'", key));
  }

  MetaValue read_array(const std::string& key, int depth) {
    if (depth >= kMaxArrayDepth)
      cur_.fail(fmt::format("arrays nested deeper than {} under key '{}'", kMaxArrayDepth, key));
    MetaType elem = read_value_type(key);
    uint64_t at = cur_.pos();
    auto n = cur_.read<uint64_t>("array length");
    uint64_t min_elem = elem == MetaType::STRING ? 8 : elem == MetaType::ARRAY ? 12 : scalar_size(elem);
    if (n > cur_.remaining() / min_elem)
      cur_.fail_at(at, fmt::format("array length {} for key '{}' runs past the end of the file", n, key));
    if (!options_.array_items) {
      skip_array_items(elem, n, key, depth);
      return MetaValue::array_summary(elem, n);
    }
    std::vector<MetaValue> items;
    items.reserve(std::min<uint64_t>(n, kMaxReserve));
    // An element that is itself an array carries its own element type and length.
    for (uint64_t k = 0; k < n; ++k) items.push_back(read_value(elem, key, depth + 1));
    return MetaValue::array(elem, std::move(items));
  }

  static uint64_t scalar_size(MetaType t) {
    switch (t) {
      case MetaType::U8: case MetaType::I8: case MetaType::BOOL: return 1;
      case MetaType::U16: case MetaType::I16: return 2;
      case MetaType::U32: case MetaType::I32: case MetaType::F32: return 4;
      default: return 8;
    }
  }

  // Walks an array's items without keeping them: still checks every length
  // against the file, allocates nothing. Tokenizer vocabularies (~450k
  // values) are most of a GGUF header; a loader does not need them.
  void skip_array_items(MetaType elem, uint64_t n, const std::string& key, int depth) {
    if (elem == MetaType::STRING) {
      for (uint64_t k = 0; k < n; ++k) {
        uint64_t at = cur_.pos();
        auto len = cur_.read<uint64_t>("string value");
        if (len > kMaxStringLen || len > cur_.remaining())
          cur_.fail_at(at, fmt::format("string value length {} for key '{}' runs past the end of the file", len, key));
        cur_.skip(len, "string value");
      }
    } else if (elem == MetaType::ARRAY) {
      for (uint64_t k = 0; k < n; ++k) read_array(key, depth + 1);
    } else if (elem == MetaType::BOOL) {
      for (uint64_t k = 0; k < n; ++k) read_value(elem, key, depth + 1);  // each byte must be 0 or 1
    } else {
      cur_.skip(n * scalar_size(elem), "array items");
    }
  }

  TensorInfo read_tensor_info() {
    TensorInfo t;
    uint64_t at = cur_.pos();
    t.name = cur_.read_string("tensor name", kMaxTensorNameLen);
    uint64_t dims_at = cur_.pos();
    auto n_dims = cur_.read<uint32_t>("dimension count");
    if (n_dims > kGgufMaxDims)
      cur_.fail_at(dims_at, fmt::format("{} dimensions; GGUF allows at most {}", n_dims, kGgufMaxDims), t.name);
    uint64_t ne[kGgufMaxDims] = {};
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne_at = cur_.pos();
      auto v = cur_.read<int64_t>("dimension");
      if (v < 0) cur_.fail_at(ne_at, fmt::format("dimension {} is negative ({})", d, v), t.name);
      ne[d] = static_cast<uint64_t>(v);
    }
    // GGUF stores ne[0] innermost; the table is outermost first.
    t.shape.assign(std::make_reverse_iterator(ne + n_dims), std::make_reverse_iterator(ne));
    uint64_t type_at = cur_.pos();
    auto type_id = cur_.read<uint32_t>("tensor type");
    auto dtype = dtype_from_gguf_id(type_id);
    if (!dtype) {
      const char* removed = removed_gguf_type_reason(type_id);
      cur_.fail_at(type_at,
                   removed ? fmt::format("type id {} is not supported: {}", type_id, removed)
                           : fmt::format("unknown ggml type id {}", type_id),
                   t.name);
    }
    t.dtype = *dtype;
    t.offset = cur_.read<uint64_t>("tensor data offset");
    SizeOrReason size = tensor_nbytes(t.dtype, t.shape);
    if (!size.nbytes) cur_.fail_at(at, fmt::format("shape is invalid for {}: {}", dtype_name(t.dtype), size.reason), t.name);
    t.nbytes = *size.nbytes;
    return t;
  }

  HeaderCursor cur_;
  GgufOptions options_;
  uint64_t n_values_ = 0;
};

}  // namespace

Result<TensorTable> parse_gguf(const ByteSource& src, const GgufOptions& options) {
  try {
    return GgufParser(src, options).parse();
  } catch (const ParseFailure& f) {
    return f.error;
  } catch (const std::bad_alloc&) {
    return Error{src.name(), {}, {}, "out of memory while parsing the GGUF header"};
  }
}

}  // namespace wm
