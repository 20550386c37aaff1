// Which tensors of a checkpoint are loaded and under which names, on legacy
// checkpoints built here opcode by opcode (the layout torch.save writes with
// _use_new_zipfile_serialization=False): every tensor reachable in the
// state-dict dicts is loaded under its full dotted path, a wrapper
// ("state_dict", "model", "module") is unwrapped only where that loses
// nothing, training state beside a wrapper is skipped with a warning naming
// each tensor, and a tensor the dicts do not reach, or two tensors flattening
// to one name, is never silent. Bytes are checked against the values written.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "format/byte_source.h"
#include "format/torch_reader.h"

namespace wm {
namespace {

// A protocol 2 pickle, written opcode by opcode. Tensors are F32 views of
// their own storage, rebuilt as torch does (_rebuild_tensor_v2 of a
// persistent-id storage).
class Pickle {
 public:
  Pickle() { raw("\x80\x02", 2); }
  Pickle& dict() { return op('}'); }
  Pickle& list() { return op(']'); }
  Pickle& mark() { return op('('); }
  Pickle& setitems() { return op('u'); }  // dict, MARK, k, v, ... -> dict
  Pickle& setitem() { return op('s'); }   // dict, k, v -> dict
  Pickle& appends() { return op('e'); }
  Pickle& str(const std::string& s) {
    op('X');
    u32(static_cast<uint32_t>(s.size()));
    raw(s.data(), s.size());
    return *this;
  }
  Pickle& truth() { return op('\x88'); }
  Pickle& integer(int32_t v) {
    op('J');
    u32(static_cast<uint32_t>(v));
    return *this;
  }
  Pickle& tensor(const std::string& key, uint32_t numel) {
    global("torch._utils", "_rebuild_tensor_v2").mark();
    mark().str("storage").global("torch", "FloatStorage").str(key).str("cpu").integer(static_cast<int32_t>(numel));
    op('t').op('Q');                            // the persistent id -> the storage
    integer(0).mark().integer(static_cast<int32_t>(numel)).op('t');  // offset, size
    mark().integer(1).op('t').op('\x89');                            // stride, requires_grad
    global("collections", "OrderedDict").op(')').op('R');            // backward hooks
    return op('t').op('R');
  }
  std::string done() { return op('.').bytes_; }

 private:
  Pickle& op(char c) { return raw(&c, 1); }
  Pickle& raw(const char* p, size_t n) {
    bytes_.append(p, n);
    return *this;
  }
  void u32(uint32_t v) {
    char b[4];
    std::memcpy(b, &v, 4);
    raw(b, 4);
  }
  Pickle& global(const std::string& module, const std::string& name) {
    op('c');
    bytes_ += module + "\n" + name + "\n";
    return *this;
  }
  std::string bytes_;
};

// A legacy checkpoint: magic, protocol version, system info, the data
// pickle, the storage key list, then each storage (u64 count, F32 values).
struct Checkpoint {
  std::string data_pickle;
  std::vector<std::pair<std::string, std::vector<float>>> storages;  // key, values

  std::vector<std::byte> bytes() const {
    std::string out("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e", 15);
    out += std::string("\x80\x02M\xe9\x03.", 6);  // 1001
    out += Pickle().dict().str("little_endian").truth().setitem().done();
    out += data_pickle;
    Pickle keys;
    keys.list().mark();
    for (const auto& [key, values] : storages) keys.str(key);
    out += keys.appends().done();
    for (const auto& [key, values] : storages) {
      uint64_t n = values.size();
      out.append(reinterpret_cast<const char*>(&n), 8);
      out.append(reinterpret_cast<const char*>(values.data()), values.size() * 4);
    }
    auto p = reinterpret_cast<const std::byte*>(out.data());
    return {p, p + out.size()};
  }
};

struct Parsed {
  Result<TensorTable> table = Error{};
  std::vector<std::byte> file;
  std::vector<std::string> warnings;
  std::map<std::string, std::vector<float>> values;  // by tensor name
};

Parsed parse(const Checkpoint& c) {
  Parsed p;
  p.file = c.bytes();
  Logger log([&](LogLevel level, std::string_view m) {
    if (level == LogLevel::kWarn) p.warnings.emplace_back(m);
  });
  p.table = parse_torch(MemorySource(p.file, "mem.ckpt"), log);
  if (!p.table) return p;
  for (const auto& t : p.table->tensors()) {
    EXPECT_TRUE(t.plain_source()) << t.name;
    std::vector<float> v(t.nbytes / 4);
    std::memcpy(v.data(), p.file.data() + t.offset, t.nbytes);
    p.values[t.name] = v;
  }
  return p;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

TEST(TorchStateDict, NestedStateDictWithTensorsBesideItLoadsEveryTensorUnderItsFullName) {
  // {"state_dict": {"model": {"diffusion_model.w": t0}, "first_stage_model.x": t1},
  //  "cond_stage_model.y": t2, "epoch": 3}
  Pickle p;
  p.dict().mark();
  p.str("state_dict").dict().mark();
  p.str("model").dict().mark().str("diffusion_model.w").tensor("0", 2).setitems();
  p.str("first_stage_model.x").tensor("1", 3);
  p.setitems();
  p.str("cond_stage_model.y").tensor("2", 1);
  p.str("epoch").integer(3);
  p.setitems();
  Checkpoint c{p.done(), {{"0", {1.5f, -2}}, {"1", {3, 4, 5}}, {"2", {-7}}}};
  Parsed r = parse(c);
  ASSERT_TRUE(r.table.ok()) << r.table.error().to_string();
  std::map<std::string, std::vector<float>> want{{"model.diffusion_model.w", {1.5f, -2}},
                                                 {"first_stage_model.x", {3, 4, 5}},
                                                 {"cond_stage_model.y", {-7}}};
  EXPECT_EQ(r.values, want);
  EXPECT_TRUE(r.warnings.empty()) << joined(r.warnings);
}

TEST(TorchStateDict, ALoneWrapperIsStillUnwrapped) {
  // {"state_dict": {"model": {"enc.w": t}}, "epoch": 1, "history": [1, 2]}
  Pickle p;
  p.dict().mark();
  p.str("state_dict").dict().mark().str("model").dict().mark().str("enc.w").tensor("0", 2).setitems().setitems();
  p.str("epoch").integer(1);
  p.str("history").list().mark().integer(1).integer(2).appends();
  p.setitems();
  Parsed r = parse({p.done(), {{"0", {1, 2}}}});
  ASSERT_TRUE(r.table.ok()) << r.table.error().to_string();
  EXPECT_EQ(r.values, (std::map<std::string, std::vector<float>>{{"enc.w", {1, 2}}}));
  EXPECT_TRUE(r.warnings.empty()) << joined(r.warnings);
}

TEST(TorchStateDict, ModelBesideOtherWeightsIsASubmoduleNotAWrapper) {
  // {"model": {"w": t0}, "ema": {"w": t1}}: unwrapping "model" would drop "ema".
  Pickle p;
  p.dict().mark();
  p.str("model").dict().mark().str("w").tensor("0", 1).setitems();
  p.str("ema").dict().mark().str("w").tensor("1", 1).setitems();
  p.setitems();
  Parsed r = parse({p.done(), {{"0", {1}}, {"1", {2}}}});
  ASSERT_TRUE(r.table.ok()) << r.table.error().to_string();
  EXPECT_EQ(r.values, (std::map<std::string, std::vector<float>>{{"model.w", {1}}, {"ema.w", {2}}}));
}

TEST(TorchStateDict, TrainingStateBesideTheWrapperIsSkippedWithAWarningNamingEachTensor) {
  // {"state_dict": {"w": t0}, "optimizer_states": [{"state": {"0": {"exp_avg": t1}}}]}
  Pickle p;
  p.dict().mark();
  p.str("state_dict").dict().mark().str("w").tensor("0", 2).setitems();
  p.str("optimizer_states").list().mark();
  p.dict().mark().str("state").dict().mark().str("0").dict().mark().str("exp_avg").tensor("1", 2);
  p.setitems().setitems().setitems().appends();
  p.setitems();
  Parsed r = parse({p.done(), {{"0", {1, 2}}, {"1", {3, 4}}}});
  ASSERT_TRUE(r.table.ok()) << r.table.error().to_string();
  EXPECT_EQ(r.values, (std::map<std::string, std::vector<float>>{{"w", {1, 2}}}));
  ASSERT_EQ(r.warnings.size(), 1u) << joined(r.warnings);
  EXPECT_TRUE(contains(r.warnings[0], "optimizer_states.0.state.0.exp_avg")) << r.warnings[0];
  EXPECT_TRUE(contains(r.warnings[0], "mem.ckpt")) << r.warnings[0];
}

TEST(TorchStateDict, TwoTensorsFlatteningToOneNameAreRefusedNamingBoth) {
  // {"a.b": t0, "a": {"b": t1}}: both flatten to "a.b".
  Pickle p;
  p.dict().mark().str("a.b").tensor("0", 1).str("a").dict().mark().str("b").tensor("1", 1).setitems().setitems();
  Parsed r = parse({p.done(), {{"0", {1}}, {"1", {2}}}});
  ASSERT_FALSE(r.table.ok());
  EXPECT_EQ(r.table.error().file, "mem.ckpt");
  EXPECT_EQ(r.table.error().tensor, "a.b");
  EXPECT_TRUE(contains(r.table.error().message, "[\"a\"][\"b\"]")) << r.table.error().message;
  EXPECT_TRUE(contains(r.table.error().message, "[\"a.b\"]")) << r.table.error().message;
}

TEST(TorchStateDict, ATensorTheDictsNoLongerReachIsWarnedAboutWithItsOffset) {
  // {"w": t0} then SETITEM "w" = t1: Python keeps t1; t0 is in the file but
  // in no dict, which deserves a warning rather than silence.
  Pickle p;
  p.dict().str("w").tensor("0", 1).setitem().str("w").tensor("1", 1).setitem();
  Parsed r = parse({p.done(), {{"0", {1}}, {"1", {2}}}});
  ASSERT_TRUE(r.table.ok()) << r.table.error().to_string();
  EXPECT_EQ(r.values, (std::map<std::string, std::vector<float>>{{"w", {2}}}));
  ASSERT_EQ(r.warnings.size(), 1u) << joined(r.warnings);
  EXPECT_TRUE(contains(r.warnings[0], "byte")) << r.warnings[0];
}

TEST(TorchStateDict, ARepeatedIntKeyReplacesItsValueAsInPython) {
  // {1: t0} then SETITEM 1 = t1 -> {1: t1}, one tensor named "1".
  Pickle p;
  p.dict().integer(1).tensor("0", 1).setitem().integer(1).tensor("1", 1).setitem();
  Parsed r = parse({p.done(), {{"0", {1}}, {"1", {2}}}});
  ASSERT_TRUE(r.table.ok()) << r.table.error().to_string();
  EXPECT_EQ(r.table->tensors().size(), 1u);
  EXPECT_EQ(r.values, (std::map<std::string, std::vector<float>>{{"1", {2}}}));
}

}  // namespace
}  // namespace wm
