// The restricted unpickler: the opcodes a state dict uses build the values
// Python would (checked against pickles whose meaning is spelled out here),
// and hostile pickles (tests/data/torch/hostile_*.pkl, written by
// scripts/make_torch_fixtures.py with Python's own pickle) are refused with
// an error naming the opcode or global and its byte offset.
#include <gtest/gtest.h>

#include "format/pickle_machine.h"
#include "format/torch_state_dict.h"
#include "test_support.h"
#include "torch_reference.h"

namespace wm {
namespace {

using namespace std::string_literals;

std::vector<std::byte> bytes_of(std::string_view s) {
  auto p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

struct PickleRun {
  PickleArena arena;
  Result<PickleResult> result = Error{};
};

PickleRun run(std::string_view pickle) {
  PickleRun r;
  auto b = bytes_of(pickle);
  r.result = unpickle(b, r.arena, "test.pkl");
  return r;
}

std::string error_of(std::string_view pickle) {
  PickleRun r = run(pickle);
  EXPECT_FALSE(r.result.ok());
  return r.result.ok() ? "" : r.result.error().message;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(PickleMachine, ScalarsAndContainers) {
  // {'a': 1, 'b': [True, None, -2, 65535, 2.5], 'c': ('x', 300)} in protocol 2.
  std::string p = "\x80\x02}q\x00(X\x01\x00\x00\x00" "a" "K\x01" "X\x01\x00\x00\x00" "b"
                  "](\x88NJ\xfe\xff\xff\xffM\xff\xff" "G\x40\x04\x00\x00\x00\x00\x00\x00" "e"
                  "X\x01\x00\x00\x00" "c" "\x8c\x01xM\x2c\x01\x86" "u."s;
  PickleRun r = run(p);
  ASSERT_TRUE(r.result.ok()) << r.result.error().to_string();
  EXPECT_EQ(r.result->consumed, p.size());
  const PickleArena& a = r.arena;
  const PyObject& d = a[r.result->root];
  ASSERT_EQ(d.kind, PyKind::kDict);
  ASSERT_EQ(d.items.size(), 6u);
  EXPECT_EQ(a[d.items[0]].s, "a");
  EXPECT_EQ(a[d.items[1]].i, 1);
  const PyObject& list = a[d.items[3]];
  ASSERT_EQ(list.kind, PyKind::kList);
  ASSERT_EQ(list.items.size(), 5u);
  EXPECT_EQ(a[list.items[0]].kind, PyKind::kBool);
  EXPECT_EQ(a[list.items[0]].i, 1);
  EXPECT_EQ(a[list.items[1]].kind, PyKind::kNone);
  EXPECT_EQ(a[list.items[2]].i, -2);
  EXPECT_EQ(a[list.items[3]].i, 65535);
  EXPECT_EQ(a[list.items[4]].f, 2.5);
  const PyObject& tup = a[d.items[5]];
  ASSERT_EQ(tup.kind, PyKind::kTuple);
  EXPECT_EQ(a[tup.items[0]].s, "x");
  EXPECT_EQ(a[tup.items[1]].i, 300);
}

TEST(PickleMachine, MemoSharesValuesAndRepeatedKeysReplace) {
  // d = {}; l = []; d['k'] = l; l.append(7); d['k'] = 8 -> {'k': 8}; memo makes
  // the appended list the same object as the one stored.
  std::string p = std::string("\x80\x02}q\x00X\x01\x00\x00\x00k]q\x01sh\x01K\x07" "a0X\x01\x00\x00\x00kK\x08s.", 31);
  PickleRun r = run(p);
  ASSERT_TRUE(r.result.ok()) << r.result.error().to_string();
  const PyObject& d = r.arena[r.result->root];
  ASSERT_EQ(d.items.size(), 2u);
  EXPECT_EQ(r.arena[d.items[1]].i, 8);
}

TEST(PickleMachine, Long1SignExtendsAndBigIntsStayBytes) {
  PickleRun r = run(std::string("\x80\x02\x8a\x02\x00\xff.", 7));  // LONG1 0xff00 LE -> -256
  ASSERT_TRUE(r.result.ok());
  EXPECT_EQ(r.arena[r.result->root].i, -256);
  PickleRun big = run(std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15));
  ASSERT_TRUE(big.result.ok());
  EXPECT_EQ(big.arena[big.result->root].kind, PyKind::kBigInt);
}

TEST(PickleMachine, StopsAtTheFirstStop) {
  PickleRun r = run(std::string("\x80\x02K\x05.\x80\x02K\x06.", 10));
  ASSERT_TRUE(r.result.ok());
  EXPECT_EQ(r.result->consumed, 5u);
  EXPECT_EQ(r.arena[r.result->root].i, 5);
}

TEST(PickleMachine, RebuildTensorBuildsAView) {
  // _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', 6) persistent,
  //                    1, (2, 2), (1, 2), False, OrderedDict())
  std::string p = std::string("\x80\x02", 2) + "ctorch._utils\n_rebuild_tensor_v2\n" + "((" +
                  std::string("X\x07\x00\x00\x00storage", 12) + "ctorch\nFloatStorage\n" +
                  std::string("X\x01\x00\x00\x00" "0", 6) + std::string("X\x03\x00\x00\x00" "cpu", 8) + "K\x06tQ" +
                  "K\x01K\x02K\x02\x86K\x01K\x02\x86\x89" + "ccollections\nOrderedDict\n)R" + "tR.";
  PickleRun r = run(p);
  ASSERT_TRUE(r.result.ok()) << r.result.error().to_string();
  const PyObject& t = r.arena[r.result->root];
  ASSERT_EQ(t.kind, PyKind::kTensor);
  const PyTensor& pt = r.arena.tensors[t.payload];
  EXPECT_EQ(pt.storage_offset, 1u);
  EXPECT_EQ(pt.shape, (std::vector<uint64_t>{2, 2}));
  EXPECT_EQ(pt.strides, (std::vector<uint64_t>{1, 2}));
  const PyStorage& st = r.arena.storages[r.arena[pt.storage].payload];
  EXPECT_EQ(st.dtype, DType::F32);
  EXPECT_EQ(st.key, "0");
  EXPECT_EQ(st.numel, 6u);
}

TEST(PickleMachine, UnknownOpcodeIsNamedWithItsOffset) {
  Error e = run(std::string("\x80\x02K\x01i", 5)).result.error();
  EXPECT_EQ(e.offset, std::optional<uint64_t>(4));
  EXPECT_TRUE(contains(e.message, "INST")) << e.message;
  EXPECT_TRUE(contains(e.message, "byte 4")) << e.message;
  EXPECT_EQ(e.file, "test.pkl");
}

TEST(PickleMachine, RefusesReduceOfAnythingButTheAllowedCallables) {
  // A storage class is allowed as a value, not as something to call.
  std::string p = "\x80\x02" "ctorch\nFloatStorage\n)R.";
  EXPECT_TRUE(contains(error_of(p), "cannot be called by REDUCE")) << error_of(p);
  // Persistent ids other than storages.
  EXPECT_TRUE(contains(error_of(std::string("\x80\x02X\x01\x00\x00\x00xQ.", 9)), "persistent id"));
}

TEST(PickleMachine, BoundsChecksEveryOperand) {
  EXPECT_TRUE(contains(error_of("\x80\x02J\x01"), "truncated"));
  EXPECT_TRUE(contains(error_of(std::string("\x80\x02h\x05.", 5)), "never stored"));
  EXPECT_TRUE(contains(error_of("\x80\x02" "cos"), "no newline"));
  EXPECT_TRUE(contains(error_of("\x80\x02."), "stack empty"));
  EXPECT_TRUE(contains(error_of("\x80\x02(K\x01."), "MARK is still open"));
  EXPECT_TRUE(contains(error_of(std::string("\x80\x09", 2)), "protocol 9"));
  EXPECT_TRUE(contains(error_of(""), "no STOP"));
}

struct Hostile {
  const char* file;
  const char* expect;  // part of the error message
};

class HostilePickle : public ::testing::TestWithParam<Hostile> {};

TEST_P(HostilePickle, IsRefusedWithAClearError) {
  std::string path = test::torch_fixture(std::string("hostile_") + GetParam().file);
  auto bytes = test::read_file(path);
  ASSERT_FALSE(bytes.empty());
  PickleArena arena;
  auto r = unpickle(bytes, arena, path);
  std::string message;
  if (r.ok()) {  // some only fail when named as a state dict
    try {
      collect_state_dict(arena, r->root, path, {});
    } catch (const ParseFailure& f) {
      message = f.error.message;
      EXPECT_EQ(f.error.file, path);
    }
  } else {
    message = r.error().message;
    EXPECT_EQ(r.error().file, path);
    EXPECT_TRUE(r.error().offset.has_value());
  }
  EXPECT_TRUE(contains(message, GetParam().expect)) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, HostilePickle,
    ::testing::Values(Hostile{"os_system.pkl", "global 'posix.system' is not allowed"},
                      Hostile{"eval.pkl", "global '__builtin__.eval' is not allowed"},
                      Hostile{"stack_global.pkl", "global 'posix.system' is not allowed"},
                      Hostile{"unknown_global.pkl", "global '__main__.Unknown' is not allowed"},
                      Hostile{"deep_marks.pkl", "nested MARKs"},
                      Hostile{"deep_dicts.pkl", "nest deeper than"},
                      Hostile{"huge_unicode.pkl", "truncated"},
                      Hostile{"truncated.pkl", "truncated"}));

TEST(PickleMachine, SelfContainingListIsWalkedOnce) {
  std::string path = test::torch_fixture("hostile_cycle.pkl");
  auto bytes = test::read_file(path);
  PickleArena arena;
  auto r = unpickle(bytes, arena, path);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_TRUE(collect_state_dict(arena, r->root, path, {}).empty());
}

}  // namespace
}  // namespace wm
