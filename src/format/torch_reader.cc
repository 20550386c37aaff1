#include "format/torch_reader.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <unordered_map>

#include "format/pickle_machine.h"
#include "format/torch_state_dict.h"
#include "format/view_geometry.h"
#include "format/zip_archive.h"

namespace wm {
namespace {

// Pickle (protocol 2) of the legacy magic number 0x1950a86a20f9469cfc6c: LONG1 of 10 bytes.
constexpr unsigned char kLegacyMagicPickle[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                                0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
constexpr int64_t kLegacyProtocolVersion = 1001;

[[noreturn]] void fail(const std::string& file, std::string tensor, std::optional<uint64_t> at, std::string msg) {
  throw ParseFailure{Error{file, std::move(tensor), at, std::move(msg)}};
}

template <class T>
T value_or_throw(Result<T> r) {
  if (!r) throw ParseFailure{r.error()};
  return std::move(r.value());
}

bool mul_ok(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }

// Where a storage's bytes are: one zip entry or one legacy record.
struct StorageBytes {
  uint64_t offset = 0;       // first byte (compressed data when deflated)
  uint64_t size = 0;         // bytes of the storage
  bool deflated = false;
  uint64_t compressed = 0;
  uint32_t crc32 = 0;  // deflated: of the inflated bytes
  std::string entry;   // the zip entry, for errors
};

// Builds the TensorInfo of one tensor: checks shape, strides and offset
// against its storage, and decides whether it is plain (mappable) or needs
// a SourceLayout.
TensorInfo make_tensor(const std::string& file, const NamedTensor& named, const PickleArena& a,
                       const StorageBytes& where) {
  const PyTensor& pt = a.tensors[a[named.tensor].payload];
  const PyStorage& st = a.storages[a[pt.storage].payload];
  auto bad = [&](std::string msg) { fail(file, named.name, pt.at, std::move(msg)); };
  TensorInfo t;
  t.name = named.name;
  t.dtype = st.dtype;
  t.shape = pt.shape;
  const uint64_t esize = dtype_info(st.dtype).block_bytes;
  SizeOrReason size = tensor_nbytes(t.dtype, t.shape);
  if (!size.nbytes) bad(fmt::format("shape is invalid: {}", size.reason));
  t.nbytes = *size.nbytes;
  uint64_t storage_bytes = 0;
  if (!mul_ok(st.numel, esize, storage_bytes) || storage_bytes != where.size)
    bad(fmt::format("storage '{}' claims {} {} elements but holds {} bytes", st.key, st.numel, dtype_name(st.dtype),
                    where.size));

  const uint64_t elems = t.nbytes / esize;
  auto view = view_geometry(t.shape, pt.strides, pt.storage_offset);
  if (!view) bad("size x stride overflows");
  if (elems > 0 && view->last_element >= st.numel)
    bad(fmt::format("view (offset {}, size {}, stride {}) reaches element {} of a {} element storage",
                    pt.storage_offset, fmt::join(pt.shape, "x"), fmt::join(pt.strides, ","), view->last_element,
                    st.numel));
  const bool contiguous = view->contiguous;
  uint64_t first_byte = pt.storage_offset * esize;  // <= last * esize, no overflow past storage_bytes
  if (elems == 0) first_byte = 0;

  if (!contiguous) t.source.strides = pt.strides;
  if (where.deflated) {
    t.offset = where.offset;
    t.source.deflated = true;
    t.source.compressed_bytes = where.compressed;
    t.source.inflated_bytes = where.size;
    t.source.first_byte = first_byte;
    t.source.crc32 = where.crc32;
    t.source.entry = where.entry;
  } else {
    t.offset = where.offset + first_byte;
  }
  return t;
}

FileInfo file_info(const ByteSource& src, FileFormat format) {
  FileInfo f;
  f.path = src.name();
  f.format = format;
  f.size = src.size();
  f.alignment = 1;  // views may start anywhere in their storage
  f.identity = src.identity();
  return f;
}

TensorTable parse_zip(const ByteSource& src, const Logger& log) {
  const std::string& file = src.name();
  ZipArchive zip = value_or_throw(ZipArchive::open(src));
  const ZipEntry* pkl = nullptr;
  for (const auto& e : zip.entries()) {
    size_t slash = e.name.find('/');
    if (slash == std::string::npos || e.name.substr(slash + 1) != "data.pkl") continue;
    if (pkl) fail(file, {}, e.header_offset, fmt::format("two pickles: '{}' and '{}'", pkl->name, e.name));
    pkl = &e;
  }
  if (!pkl) fail(file, {}, {}, "zip archive without '<archive>/data.pkl': not a PyTorch checkpoint");
  const std::string prefix = pkl->name.substr(0, pkl->name.size() - 8);  // "<archive>/"

  FileInfo info = file_info(src, FileFormat::kTorch);
  info.metadata.emplace_back("torch.archive", MetaValue::str(prefix.substr(0, prefix.size() - 1)));
  for (const char* small : {"version", "byteorder"}) {
    const ZipEntry* e = zip.find(prefix + small);
    if (!e) continue;
    auto bytes = value_or_throw(zip.read(src, *e, 64));
    std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (std::string_view(small) == "byteorder" && text != "little")
      fail(file, {}, e->data_offset, fmt::format("byte order '{}': only little-endian checkpoints are supported", text));
    info.metadata.emplace_back(fmt::format("torch.{}", small), MetaValue::str(text));
  }

  auto pickle = value_or_throw(zip.read(src, *pkl, kTorchMaxPickle));
  PickleArena arena;
  // Offsets in pickle errors are relative to data.pkl, which sits at
  // data_offset when stored.
  uint64_t base = pkl->method == ZipMethod::kStored ? pkl->data_offset : 0;
  auto result = value_or_throw(unpickle(pickle, arena, file, base));
  std::vector<NamedTensor> named = collect_state_dict(arena, result.root, file, log);

  TensorTable table;
  table.add_file(std::move(info));
  for (const auto& n : named) {
    const PyStorage& st = arena.storages[arena[arena.tensors[arena[n.tensor].payload].storage].payload];
    if (st.is_view) fail(file, n.name, {}, "storage views are a legacy-format feature, unexpected in a zip checkpoint");
    const ZipEntry* e = zip.find(prefix + "data/" + st.key);
    if (!e) fail(file, n.name, {}, fmt::format("storage '{}' has no entry '{}data/{}'", st.key, prefix, st.key));
    StorageBytes where{e->data_offset, e->uncompressed_size, e->method == ZipMethod::kDeflated, e->compressed_size,
                       e->crc32, e->name};
    table.add_tensor(make_tensor(file, n, arena, where));
  }
  return table;
}

// The legacy pickles are read from a prefix of the file that grows until
// they fit (their length is only known once parsed).
class LegacyReader {
 public:
  LegacyReader(const ByteSource& src, const Logger& log) : src_(src), log_(log) {}

  TensorTable parse() {
    uint64_t want = std::min<uint64_t>(src_.size(), 1 << 20);
    while (true) {
      head_.resize(want);
      if (Status s = src_.read(0, head_); !s) throw ParseFailure{s.error()};
      bool ran_out = false;
      auto table = try_parse(ran_out);
      if (table) return std::move(table.value());
      if (!ran_out || want == src_.size()) throw ParseFailure{table.error()};
      if (want >= kTorchMaxPickle)
        fail(src_.name(), {}, 0, fmt::format("pickles longer than the {} byte limit", kTorchMaxPickle));
      want = std::min<uint64_t>(src_.size(), want * 4);
    }
  }

 private:
  // One pickle after another, from pos_.
  Result<PyId> next(PickleArena& arena, bool& ran_out) {
    auto r = unpickle(std::span(head_).subspan(pos_), arena, src_.name(), pos_, {}, &ran_out);
    if (!r) return r.error();
    pos_ += r->consumed;
    return r->root;
  }

  Result<TensorTable> try_parse(bool& ran_out) {
    try {
      return parse_head(ran_out);
    } catch (const ParseFailure& f) {
      return f.error;
    }
  }

  TensorTable parse_head(bool& ran_out) {
    const std::string& file = src_.name();
    pos_ = 0;
    PickleArena arena;
    PyId magic = value_or_throw(next(arena, ran_out));
    if (arena[magic].kind != PyKind::kBigInt ||
        arena[magic].s != std::string(reinterpret_cast<const char*>(kLegacyMagicPickle) + 4, 10))
      fail(file, {}, 0, "not a legacy PyTorch checkpoint: wrong magic number");
    uint64_t at = pos_;
    PyId proto = value_or_throw(next(arena, ran_out));
    if (arena[proto].kind != PyKind::kInt || arena[proto].i != kLegacyProtocolVersion)
      fail(file, {}, at, fmt::format("legacy protocol version is not {}", kLegacyProtocolVersion));
    at = pos_;
    PyId sys = value_or_throw(next(arena, ran_out));
    check_sys_info(arena, sys, at);
    PyId root = value_or_throw(next(arena, ran_out));
    at = pos_;
    PyId keys = value_or_throw(next(arena, ran_out));
    std::vector<NamedTensor> named = collect_state_dict(arena, root, file, log_);

    // Storages follow in the order of the key list; their dtype (hence
    // size) is known from the persistent ids that named them.
    std::unordered_map<std::string, const PyStorage*> by_key;
    for (const auto& s : arena.storages) {
      if (s.is_view) fail(file, {}, {}, fmt::format("storage '{}' is a legacy storage view: not supported", s.view_key));
      by_key.emplace(s.key, &s);
    }
    if (arena[keys].kind != PyKind::kList) fail(file, {}, at, "the storage key list is not a list");
    std::unordered_map<std::string, StorageBytes> where;
    uint64_t p = pos_;
    for (PyId k : arena[keys].items) {
      if (arena[k].kind != PyKind::kStr) fail(file, {}, at, "a storage key is not a str");
      const std::string& key = arena[k].s;
      auto it = by_key.find(key);
      if (it == by_key.end()) fail(file, {}, p, fmt::format("storage '{}' is listed but never used", key));
      uint64_t count = 0;
      if (p > src_.size() || src_.size() - p < 8)
        fail(file, {}, p, fmt::format("truncated: storage '{}' header runs past the end of the file", key));
      if (Status s = src_.read(p, {reinterpret_cast<std::byte*>(&count), 8}); !s) throw ParseFailure{s.error()};
      uint64_t bytes = 0;
      if (!mul_ok(count, dtype_info(it->second->dtype).block_bytes, bytes) || bytes > src_.size() - p - 8)
        fail(file, {}, p, fmt::format("storage '{}' of {} elements runs past the end of the file", key, count));
      if (!where.emplace(key, StorageBytes{p + 8, bytes, false, 0, 0, {}}).second)
        fail(file, {}, p, fmt::format("storage '{}' is listed twice", key));
      p += 8 + bytes;
    }
    FileInfo info = file_info(src_, FileFormat::kTorchLegacy);
    info.data_offset = pos_;
    TensorTable table;
    table.add_file(std::move(info));
    for (const auto& n : named) {
      const PyStorage& st = arena.storages[arena[arena.tensors[arena[n.tensor].payload].storage].payload];
      auto it = where.find(st.key);
      if (it == where.end()) fail(file, n.name, {}, fmt::format("storage '{}' is not in the storage list", st.key));
      table.add_tensor(make_tensor(file, n, arena, it->second));
    }
    if (p != src_.size())
      log_.debug(fmt::format("'{}': {} bytes after the last storage ignored", file, src_.size() - p));
    return table;
  }

  void check_sys_info(const PickleArena& a, PyId sys, uint64_t at) {
    const PyObject& d = a[sys];
    if (d.kind != PyKind::kDict) fail(src_.name(), {}, at, "legacy system info is not a dict");
    for (size_t i = 0; i + 1 < d.items.size(); i += 2) {
      const PyObject& k = a[d.items[i]];
      const PyObject& v = a[d.items[i + 1]];
      if (k.kind == PyKind::kStr && k.s == "little_endian" && !(v.kind == PyKind::kBool && v.i == 1))
        fail(src_.name(), {}, at, "big-endian checkpoint: only little-endian is supported");
    }
  }

  const ByteSource& src_;
  const Logger& log_;
  std::vector<std::byte> head_;
  uint64_t pos_ = 0;
};

// A zip starts with a local header, or with the end record when empty.
bool looks_like_zip(const std::byte* head, size_t n) {
  return n >= 4 && (std::memcmp(head, "PK\x03\x04", 4) == 0 || std::memcmp(head, "PK\x05\x06", 4) == 0);
}

}  // namespace

bool looks_like_torch(std::span<const std::byte> head) {
  if (looks_like_zip(head.data(), head.size())) return true;
  return head.size() >= sizeof kLegacyMagicPickle &&
         std::memcmp(head.data(), kLegacyMagicPickle, sizeof kLegacyMagicPickle) == 0;
}

Result<TensorTable> parse_torch(const ByteSource& src, const Logger& log) {
  try {
    std::byte head[4] = {};
    if (src.size() >= 4)
      if (Status s = src.read(0, head); !s) return s.error();
    if (looks_like_zip(head, sizeof head)) return parse_zip(src, log);
    if (head[0] != std::byte{0x80})  // a legacy checkpoint starts with a pickle PROTO
      return Error{src.name(), {}, 0,
                   "not a PyTorch checkpoint: expected a zip archive (torch.save) or a legacy pickle"};
    return LegacyReader(src, log).parse();
  } catch (const ParseFailure& f) {
    return f.error;
  } catch (const std::bad_alloc&) {
    return Error{src.name(), {}, {}, "out of memory while reading the checkpoint"};
  }
}

}  // namespace wm
