#include "format/pickle_machine.h"

#include <cstring>
#include <fmt/format.h>
#include <optional>

namespace wm {

const char* py_kind_name(PyKind k) {
  switch (k) {
    case PyKind::kNone: return "None";
    case PyKind::kBool: return "bool";
    case PyKind::kInt: return "int";
    case PyKind::kBigInt: return "big int";
    case PyKind::kFloat: return "float";
    case PyKind::kStr: return "str";
    case PyKind::kBytes: return "bytes";
    case PyKind::kTuple: return "tuple";
    case PyKind::kList: return "list";
    case PyKind::kDict: return "dict";
    case PyKind::kGlobal: return "global";
    case PyKind::kStorage: return "storage";
    case PyKind::kTensor: return "tensor";
    case PyKind::kOpaque: return "opaque value";
  }
  return "?";
}

namespace {

struct AllowedGlobal {
  const char* name;
  PyGlobal kind;
  DType dtype;
};

// Inert entries: data-only helpers real training checkpoints carry beside
// the state dict (Lightning callback keys, numpy scalars for metrics, sets,
// bytes under protocol 2). Reducing them yields an opaque value; none of
// them runs anything here, and an opaque value is never a tensor.
constexpr AllowedGlobal kAllowed[] = {
    {"collections.OrderedDict", PyGlobal::kOrderedDict, DType::F32},
    {"torch._utils._rebuild_tensor_v2", PyGlobal::kRebuildTensor, DType::F32},
    {"torch._utils._rebuild_parameter", PyGlobal::kRebuildParameter, DType::F32},
    {"torch.FloatStorage", PyGlobal::kStorageType, DType::F32},
    {"torch.DoubleStorage", PyGlobal::kStorageType, DType::F64},
    {"torch.HalfStorage", PyGlobal::kStorageType, DType::F16},
    {"torch.BFloat16Storage", PyGlobal::kStorageType, DType::BF16},
    {"torch.CharStorage", PyGlobal::kStorageType, DType::I8},
    {"torch.ByteStorage", PyGlobal::kStorageType, DType::U8},
    {"torch.ShortStorage", PyGlobal::kStorageType, DType::I16},
    {"torch.IntStorage", PyGlobal::kStorageType, DType::I32},
    {"torch.LongStorage", PyGlobal::kStorageType, DType::I64},
    {"torch.BoolStorage", PyGlobal::kStorageType, DType::BOOL},
    {"builtins.set", PyGlobal::kInert, DType::F32},
    {"__builtin__.set", PyGlobal::kInert, DType::F32},
    {"_codecs.encode", PyGlobal::kInert, DType::F32},
    {"numpy.core.multiarray.scalar", PyGlobal::kInert, DType::F32},
    {"numpy.dtype", PyGlobal::kInert, DType::F32},
    {"pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint", PyGlobal::kInert, DType::F32},
};

const AllowedGlobal* find_allowed(std::string_view name) {
  for (const auto& g : kAllowed)
    if (name == g.name) return &g;
  return nullptr;
}

// Opcode names for messages (pickletools spelling).
const char* opcode_name(uint8_t op) {
  switch (op) {
    case 0x80: return "PROTO";
    case 0x95: return "FRAME";
    case '.': return "STOP";
    case '}': return "EMPTY_DICT";
    case ']': return "EMPTY_LIST";
    case ')': return "EMPTY_TUPLE";
    case '(': return "MARK";
    case 'X': return "BINUNICODE";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x8e: return "BINBYTES8";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'M': return "BININT2";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 'G': return "BINFLOAT";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 'N': return "NONE";
    case 't': return "TUPLE";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 'h': return "BINGET";
    case 'j': return "LONG_BINGET";
    case 0x94: return "MEMOIZE";
    case 's': return "SETITEM";
    case 'u': return "SETITEMS";
    case 'a': return "APPEND";
    case 'e': return "APPENDS";
    case 'c': return "GLOBAL";
    case 0x93: return "STACK_GLOBAL";
    case 'R': return "REDUCE";
    case 'b': return "BUILD";
    case 'Q': return "BINPERSID";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    // Refused, named so the error says what was met.
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 'P': return "PERSID";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 'S': return "STRING";
    case 'V': return "UNICODE";
    case 'I': return "INT";
    case 'L': return "LONG";
    case 'F': return "FLOAT";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'p': return "PUT";
    case 'g': return "GET";
    case 'l': return "LIST";
    case 'd': return "DICT";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return nullptr;
  }
}

std::string opcode_text(uint8_t op) {
  const char* name = opcode_name(op);
  return name ? fmt::format("{} (0x{:02x})", name, op) : fmt::format("0x{:02x}", op);
}

class Machine {
 public:
  Machine(std::span<const std::byte> bytes, PickleArena& arena, const std::string& file, uint64_t base,
          const PickleLimits& limits)
      : in_(bytes), a_(arena), file_(file), base_(base), limits_(limits) {}

  PickleResult run() {
    while (true) {
      op_at_ = pos_;
      if (pos_ >= in_.size()) {
        ran_out_ = true;
        fail_plain(fmt::format("truncated pickle: no STOP opcode in {} bytes", in_.size()));
      }
      op_ = u8();
      if (op_ == '.') {
        if (!marks_.empty()) fail("a MARK is still open");
        return {pop("the pickled value"), pos_};
      }
      step();
    }
  }

 private:
  [[noreturn]] void fail_plain(std::string msg) const {
    throw ParseFailure{Error{file_, {}, base_ + op_at_, std::move(msg)}};
  }
  [[noreturn]] void fail(std::string msg) const {
    fail_plain(fmt::format("pickle opcode {} at byte {}: {}", opcode_text(op_), op_at_, msg));
  }

  // Operand reading, bounded by the input.
  void need(uint64_t n) {
    if (n > in_.size() - pos_) {
      ran_out_ = true;
      fail(fmt::format("truncated: needs {} operand bytes, {} left", n, in_.size() - pos_));
    }
  }
  uint8_t u8() {
    need(1);
    return static_cast<uint8_t>(in_[pos_++]);
  }
  template <class T>
  T le() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string bytes(uint64_t n) {
    need(n);  // checked before allocating: a length can never exceed the input
    std::string s(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  std::string line() {
    const std::byte* start = in_.data() + pos_;
    const void* nl = std::memchr(start, '\n', in_.size() - pos_);
    if (!nl) {
      ran_out_ = true;
      fail("truncated: no newline after the GLOBAL name");
    }
    size_t n = static_cast<const std::byte*>(nl) - start;
    std::string s(reinterpret_cast<const char*>(start), n);
    pos_ += n + 1;
    return s;
  }

  PyId make(PyObject o) {
    if (a_.objects.size() >= UINT32_MAX - 1) fail("too many values");
    a_.objects.push_back(std::move(o));
    return static_cast<PyId>(a_.objects.size() - 1);
  }
  PyId make_kind(PyKind k) {
    PyObject o;
    o.kind = k;
    return make(std::move(o));
  }
  PyId make_int(int64_t v) {
    PyObject o;
    o.kind = PyKind::kInt;
    o.i = v;
    return make(std::move(o));
  }
  void push(PyId id) {
    if (stack_.size() >= limits_.max_stack) fail(fmt::format("more than {} values on the stack", limits_.max_stack));
    stack_.push_back(id);
  }
  uint64_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  PyId pop(const char* what) {
    if (stack_.size() <= floor()) fail(fmt::format("stack empty where {} was expected", what));
    PyId id = stack_.back();
    stack_.pop_back();
    return id;
  }
  PyId top(const char* what) {
    if (stack_.size() <= floor()) fail(fmt::format("stack empty where {} was expected", what));
    return stack_.back();
  }
  // Values above the last MARK, which is removed.
  std::vector<PyId> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    uint64_t m = marks_.back();
    marks_.pop_back();
    std::vector<PyId> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  PyObject& expect(PyId id, PyKind kind, const char* what) {
    PyObject& o = a_[id];
    if (o.kind != kind) fail(fmt::format("{} must be a {}, got a {}", what, py_kind_name(kind), py_kind_name(o.kind)));
    return o;
  }

  void memo_put(uint64_t index) { memo_[index] = top("the value to memoize"); }
  void memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail(fmt::format("memo index {} was never stored", index));
    push(it->second);
  }

  void set_item(PyId dict, PyId key, PyId value) {
    PyObject& d = expect(dict, PyKind::kDict, "the SETITEM target");
    const PyObject& k = a_[key];
    // Python semantics for the keys that can name tensors: str, and int
    // (with bool, which Python hashes as 0 and 1). The tag keeps "1" and 1 apart.
    std::optional<std::string> index_key;
    if (k.kind == PyKind::kStr) index_key = fmt::format("s{}", k.s);
    else if (k.kind == PyKind::kInt || k.kind == PyKind::kBool) index_key = fmt::format("i{}", k.i);
    if (index_key) {
      auto& index = a_.dict_index[dict];
      auto [it, inserted] = index.emplace(std::move(*index_key), d.items.size());
      if (!inserted) {  // Python semantics: a repeated key replaces the value
        d.items[it->second + 1] = value;
        return;
      }
    }
    d.items.push_back(key);
    d.items.push_back(value);
  }

  void append(PyId list, PyId value) { expect(list, PyKind::kList, "the APPEND target").items.push_back(value); }

  PyId make_global(std::string module, std::string name) {
    std::string full = module + "." + name;
    const AllowedGlobal* g = find_allowed(full);
    if (!g) fail(fmt::format("global '{}' is not allowed; a state dict only needs {}", full, allowed_globals_text()));
    PyObject o;
    o.kind = PyKind::kGlobal;
    o.global = g->kind;
    o.dtype = g->dtype;
    o.s = std::move(full);
    return make(std::move(o));
  }

  uint64_t as_count(PyId id, const char* what) {
    const PyObject& o = a_[id];
    if (o.kind != PyKind::kInt || o.i < 0) fail(fmt::format("{} must be a non-negative int", what));
    return static_cast<uint64_t>(o.i);
  }
  std::vector<uint64_t> as_dims(PyId id, const char* what) {
    const PyObject& o = a_[id];
    if (o.kind != PyKind::kTuple) fail(fmt::format("{} must be a tuple, got a {}", what, py_kind_name(o.kind)));
    if (o.items.size() > limits_.max_dims)
      fail(fmt::format("{} has {} dimensions; at most {} are supported", what, o.items.size(), limits_.max_dims));
    std::vector<uint64_t> out;
    for (PyId d : o.items) out.push_back(as_count(d, what));
    return out;
  }
  const std::string& as_str(PyId id, const char* what) {
    const PyObject& o = a_[id];
    if (o.kind != PyKind::kStr) fail(fmt::format("{} must be a str, got a {}", what, py_kind_name(o.kind)));
    return o.s;
  }

  // ('storage', storage_type, key, location, numel[, view_metadata])
  PyId persistent_load(PyId pid) {
    const PyObject& t = a_[pid];
    if (t.kind != PyKind::kTuple || (t.items.size() != 5 && t.items.size() != 6))
      fail("persistent id must be a tuple ('storage', type, key, location, numel[, view])");
    std::vector<PyId> f = t.items;
    if (as_str(f[0], "persistent id tag") != "storage")
      fail(fmt::format("persistent id tag '{}' is not 'storage'", a_[f[0]].s));
    const PyObject& type = a_[f[1]];
    if (type.kind != PyKind::kGlobal || type.global != PyGlobal::kStorageType)
      fail("persistent id storage type must be a torch.*Storage class");
    PyStorage s;
    s.dtype = type.dtype;
    s.key = as_str(f[2], "storage key");
    s.location = as_str(f[3], "storage location");
    s.numel = as_count(f[4], "storage element count");
    if (f.size() == 6 && a_[f[5]].kind != PyKind::kNone) {
      const PyObject& v = a_[f[5]];
      if (v.kind != PyKind::kTuple || v.items.size() != 3) fail("storage view metadata must be (key, offset, numel)");
      std::vector<PyId> vi = v.items;
      s.is_view = true;
      s.view_key = as_str(vi[0], "storage view key");
      s.view_offset = as_count(vi[1], "storage view offset");
      s.view_numel = as_count(vi[2], "storage view element count");
    }
    a_.storages.push_back(std::move(s));
    PyObject o;
    o.kind = PyKind::kStorage;
    o.payload = static_cast<uint32_t>(a_.storages.size() - 1);
    return make(std::move(o));
  }

  PyId reduce(PyId callable, PyId args_id) {
    const PyObject& c = a_[callable];
    if (c.kind != PyKind::kGlobal) fail(fmt::format("REDUCE callable must be an allowed global, got a {}", py_kind_name(c.kind)));
    const PyObject& args_obj = expect(args_id, PyKind::kTuple, "REDUCE arguments");
    std::vector<PyId> args = args_obj.items;
    switch (c.global) {
      case PyGlobal::kOrderedDict:
        if (!args.empty()) fail("collections.OrderedDict is only rebuilt from () (items follow by SETITEMS)");
        return make_kind(PyKind::kDict);
      case PyGlobal::kRebuildTensor: {
        if (args.size() != 6 && args.size() != 7)
          fail(fmt::format("torch._utils._rebuild_tensor_v2 takes 6 or 7 arguments, got {}", args.size()));
        expect(args[0], PyKind::kStorage, "_rebuild_tensor_v2 storage");
        PyTensor t;
        t.storage = args[0];
        t.storage_offset = as_count(args[1], "_rebuild_tensor_v2 storage offset");
        t.shape = as_dims(args[2], "_rebuild_tensor_v2 size");
        t.strides = as_dims(args[3], "_rebuild_tensor_v2 stride");
        if (t.shape.size() != t.strides.size())
          fail(fmt::format("size has {} dimensions but stride has {}", t.shape.size(), t.strides.size()));
        t.at = base_ + op_at_;
        a_.tensors.push_back(std::move(t));
        PyObject o;
        o.kind = PyKind::kTensor;
        o.payload = static_cast<uint32_t>(a_.tensors.size() - 1);
        return make(std::move(o));
      }
      case PyGlobal::kRebuildParameter:
        if (args.size() != 3)
          fail(fmt::format("torch._utils._rebuild_parameter takes 3 arguments, got {}", args.size()));
        expect(args[0], PyKind::kTensor, "_rebuild_parameter data");
        return args[0];
      case PyGlobal::kInert: {
        PyObject o;
        o.kind = PyKind::kOpaque;
        o.s = c.s;
        return make(std::move(o));
      }
      case PyGlobal::kStorageType:
      case PyGlobal::kNone:
        break;
    }
    fail(fmt::format("'{}' cannot be called by REDUCE", c.s));
  }

  PyId tuple_of(std::vector<PyId> items) {
    PyObject o;
    o.kind = PyKind::kTuple;
    o.items = std::move(items);
    return make(std::move(o));
  }

  void step() {
    switch (op_) {
      case 0x80: {
        uint8_t proto = u8();
        if (proto < 2 || proto > 5) fail(fmt::format("protocol {} is not supported (2 to 5)", proto));
        return;
      }
      case 0x95: le<uint64_t>(); return;  // FRAME: a hint for buffered readers
      case '}': return push(make_kind(PyKind::kDict));
      case ']': return push(make_kind(PyKind::kList));
      case ')': return push(make_kind(PyKind::kTuple));
      case '(':
        if (marks_.size() >= limits_.max_marks) fail(fmt::format("more than {} nested MARKs", limits_.max_marks));
        marks_.push_back(stack_.size());
        return;
      case 'X': return push_str(PyKind::kStr, le<uint32_t>());
      case 0x8c: return push_str(PyKind::kStr, u8());
      case 0x8d: return push_str(PyKind::kStr, le<uint64_t>());
      case 'B': return push_str(PyKind::kBytes, le<uint32_t>());
      case 'C': return push_str(PyKind::kBytes, u8());
      case 0x8e: return push_str(PyKind::kBytes, le<uint64_t>());
      case 'J': return push(make_int(le<int32_t>()));
      case 'K': return push(make_int(u8()));
      case 'M': return push(make_int(le<uint16_t>()));
      case 0x8a: return push_long(u8());
      case 0x8b: {
        int32_t n = le<int32_t>();
        if (n < 0) fail("negative LONG4 length");
        return push_long(static_cast<uint64_t>(n));
      }
      case 'G': {
        uint64_t bits = __builtin_bswap64(le<uint64_t>());  // big-endian on the wire
        PyObject o;
        o.kind = PyKind::kFloat;
        std::memcpy(&o.f, &bits, 8);
        return push(make(std::move(o)));
      }
      case 0x88:
      case 0x89: {
        PyObject o;
        o.kind = PyKind::kBool;
        o.i = op_ == 0x88;
        return push(make(std::move(o)));
      }
      case 'N': return push(make_kind(PyKind::kNone));
      case 't': return push(tuple_of(pop_mark()));
      case 0x85: {
        PyId a = pop("a tuple item");
        return push(tuple_of({a}));
      }
      case 0x86: {
        PyId b = pop("a tuple item"), a = pop("a tuple item");
        return push(tuple_of({a, b}));
      }
      case 0x87: {
        PyId c = pop("a tuple item"), b = pop("a tuple item"), a = pop("a tuple item");
        return push(tuple_of({a, b, c}));
      }
      case 'q': return memo_put(u8());
      case 'r': return memo_put(le<uint32_t>());
      case 0x94: return memo_put(memo_.size());
      case 'h': return memo_get(u8());
      case 'j': return memo_get(le<uint32_t>());
      case 's': {
        PyId value = pop("a dict value"), key = pop("a dict key");
        return set_item(top("the dict"), key, value);
      }
      case 'u': {
        std::vector<PyId> items = pop_mark();
        if (items.size() % 2) fail("SETITEMS with an odd number of values");
        PyId dict = top("the dict");
        for (size_t i = 0; i < items.size(); i += 2) set_item(dict, items[i], items[i + 1]);
        return;
      }
      case 'a': {
        PyId value = pop("a list item");
        return append(top("the list"), value);
      }
      case 'e': {
        std::vector<PyId> items = pop_mark();
        PyId list = top("the list");
        for (PyId v : items) append(list, v);
        return;
      }
      case 'c': {
        std::string module = line();
        std::string name = line();
        return push(make_global(std::move(module), std::move(name)));
      }
      case 0x93: {
        PyId name = pop("the global's name"), module = pop("the global's module");
        return push(make_global(as_str(module, "STACK_GLOBAL module"), as_str(name, "STACK_GLOBAL name")));
      }
      case 'R': {
        PyId args = pop("REDUCE arguments"), callable = pop("the REDUCE callable");
        return push(reduce(callable, args));
      }
      case 'b': {
        pop("BUILD state");
        PyKind k = a_[top("the BUILD target")].kind;
        // Instance attributes (an OrderedDict's _metadata, a numpy scalar's
        // state) hold no tensors of the state dict: dropped.
        if (k != PyKind::kDict && k != PyKind::kOpaque)
          fail(fmt::format("BUILD on a {} is not allowed", py_kind_name(k)));
        return;
      }
      case 'Q': return push(persistent_load(pop("the persistent id")));
      case '0': pop("a value to POP"); return;
      case '1': pop_mark(); return;
      case '2': return push(top("a value to DUP"));
      default: break;
    }
    fail("opcode not allowed in a state dict pickle");
  }

  void push_str(PyKind kind, uint64_t n) {
    PyObject o;
    o.kind = kind;
    o.s = bytes(n);
    push(make(std::move(o)));
  }

  // Little-endian two's complement of n bytes; small ones become ints.
  void push_long(uint64_t n) {
    std::string raw = bytes(n);
    PyObject o;
    if (n <= 8) {
      uint64_t v = 0;
      if (n) std::memcpy(&v, raw.data(), n);
      if (n && n < 8 && (static_cast<uint8_t>(raw[n - 1]) & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
      o.kind = PyKind::kInt;
      o.i = static_cast<int64_t>(v);
    } else {
      o.kind = PyKind::kBigInt;
      o.s = std::move(raw);
    }
    push(make(std::move(o)));
  }


 public:
  bool ran_out_ = false;  // failed because the input ended (more bytes may help)

 private:
  std::span<const std::byte> in_;
  PickleArena& a_;
  const std::string& file_;
  uint64_t base_;
  PickleLimits limits_;
  uint64_t pos_ = 0, op_at_ = 0;
  uint8_t op_ = 0;
  std::vector<PyId> stack_;
  std::vector<uint64_t> marks_;
  std::unordered_map<uint64_t, PyId> memo_;
};

}  // namespace

std::string allowed_globals_text() {
  std::string s;
  for (const auto& g : kAllowed) s += fmt::format("{}{}", s.empty() ? "" : ", ", g.name);
  return s;
}

Result<PickleResult> unpickle(std::span<const std::byte> bytes, PickleArena& arena, const std::string& file,
                              uint64_t base, const PickleLimits& limits, bool* ran_out) {
  Machine machine(bytes, arena, file, base, limits);
  try {
    return machine.run();
  } catch (const ParseFailure& f) {
    if (ran_out) *ran_out = machine.ran_out_;
    return f.error;
  } catch (const std::bad_alloc&) {
    return Error{file, {}, base, "out of memory while unpickling"};
  }
}

}  // namespace wm
