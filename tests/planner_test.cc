// The pure planner: per tensor Map / Copy / Convert with the reason, the
// files to map, offload, type rules, and byte totals. Tables are built by
// hand (the planner does no I/O), so every offset and dtype is chosen.
#include <gtest/gtest.h>

#include <numeric>

#include "load/loader.h"
#include "plan/load_plan.h"
#include "load/loader.h"

namespace wm {
namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct TableBuilder {
  TensorTable table;
  uint32_t add_file(std::string path, std::string component = {}) {
    FileInfo f;
    f.path = std::move(path);
    f.size = 1 << 30;
    f.component = std::move(component);
    return table.add_file(std::move(f));
  }
  TableBuilder& add(std::string name, DType dtype, std::vector<uint64_t> shape, uint64_t offset, uint32_t file = 0) {
    TensorInfo t;
    t.name = std::move(name);
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.file = file;
    t.offset = offset;
    t.component = table.files().at(file).component;
    auto n = tensor_nbytes(dtype, t.shape);
    EXPECT_TRUE(n.nbytes.has_value()) << n.reason;
    t.nbytes = n.nbytes.value_or(0);
    table.add_tensor(std::move(t));
    return *this;
  }
};

const std::vector<DeviceCaps> kDevices = {cpu_device_caps(), sim_device_caps()};

Result<LoadPlan> plan_with(const TensorTable& table, const PlanOptions& o) { return make_plan(table, kDevices, o); }

PlanOptions rules(const std::string& devices, const std::string& types = {}) {
  PlanOptions o;
  auto d = NameRules::parse(devices);
  EXPECT_TRUE(d.ok());
  auto t = NameRules::parse(types);
  EXPECT_TRUE(t.ok());
  if (d.ok()) o.device_rules = d.value();
  if (t.ok()) o.type_rules = t.value();
  return o;
}

void expect_totals_add_up(const TensorTable& table, const LoadPlan& plan) {
  uint64_t mapped = 0, copied = 0, converted = 0, total = 0;
  for (size_t i = 0; i < table.tensors().size(); ++i) {
    total += table.tensors()[i].nbytes;
    switch (plan.tensors[i].placement) {
      case Placement::kMap: mapped += table.tensors()[i].nbytes; break;
      case Placement::kCopy: copied += table.tensors()[i].nbytes; break;
      case Placement::kConvert: converted += table.tensors()[i].nbytes; break;
    }
  }
  EXPECT_EQ(plan.bytes_mapped, mapped);
  EXPECT_EQ(plan.bytes_copied, copied);
  EXPECT_EQ(plan.bytes_converted, converted);
  EXPECT_EQ(plan.bytes_mapped + plan.bytes_copied + plan.bytes_converted, total);
}

// A GGUF-like file: every offset 32-byte aligned, a mix of dtypes.
TableBuilder aligned_model() {
  TableBuilder b;
  b.add_file("/m/enc.gguf");
  b.add("tok.weight", DType::F16, {16, 64}, 4096)
      .add("norm.weight", DType::F32, {64}, 4096 + 2048)
      .add("q.weight", DType::Q8_0, {64, 64}, 4096 + 2048 + 256)
      .add("ids", DType::I32, {8}, 4096 + 2048 + 256 + 4352)
      .add("bf.weight", DType::BF16, {32}, 4096 + 2048 + 256 + 4352 + 32);
  return b;
}

TEST(Planner, AllAlignedOnCpuIsEveryTensorMapped) {
  TableBuilder b = aligned_model();
  auto plan = plan_with(b.table, {});
  ASSERT_TRUE(plan.ok()) << plan.error().to_string();
  ASSERT_EQ(plan->tensors.size(), b.table.tensors().size());
  ASSERT_EQ(plan->map_file.size(), 1u);
  EXPECT_TRUE(plan->map_file[0]);
  ASSERT_EQ(plan->devices.size(), 2u);
  EXPECT_EQ(plan->devices[0].name, "cpu");
  for (size_t i = 0; i < plan->tensors.size(); ++i) {
    const TensorPlan& p = plan->tensors[i];
    SCOPED_TRACE(b.table.tensors()[i].name);
    EXPECT_EQ(p.placement, Placement::kMap);
    EXPECT_EQ(p.device, 0u);
    EXPECT_EQ(p.dtype, b.table.tensors()[i].dtype);
    EXPECT_EQ(p.nbytes, b.table.tensors()[i].nbytes);
    EXPECT_FALSE(p.host_resident);
    EXPECT_TRUE(p.reason.empty()) << p.reason;
  }
  EXPECT_EQ(plan->bytes_mapped, b.table.total_tensor_bytes());
  EXPECT_EQ(plan->bytes_copied, 0u);
  EXPECT_EQ(plan->bytes_converted, 0u);
  expect_totals_add_up(b.table, *plan);
}

TEST(Planner, NoMmapCopiesEverythingWithAReason) {
  TableBuilder b = aligned_model();
  PlanOptions o;
  o.use_mmap = false;
  auto plan = plan_with(b.table, o);
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->map_file[0]);
  for (const TensorPlan& p : plan->tensors) {
    EXPECT_EQ(p.placement, Placement::kCopy);
    EXPECT_TRUE(contains(p.reason, "mmap disabled")) << p.reason;
  }
  EXPECT_EQ(plan->bytes_mapped, 0u);
  EXPECT_EQ(plan->bytes_copied, b.table.total_tensor_bytes());
  expect_totals_add_up(b.table, *plan);
}

TEST(Planner, UnalignedOffsetsCopyOnlyTheDtypesThatNeedAlignment) {
  // safetensors does not align: offsets as a contiguous layout leaves them.
  TableBuilder b;
  b.add_file("/m/t.safetensors");
  b.add("f32_odd", DType::F32, {3}, 1001)      // needs 4
      .add("f32_at2", DType::F32, {3}, 1002)   // needs 4
      .add("f32_at4", DType::F32, {3}, 1004)   // fine
      .add("f16_at2", DType::F16, {3}, 1018)   // needs 2: fine
      .add("f16_odd", DType::F16, {3}, 1025)   // needs 2
      .add("bf16_odd", DType::BF16, {3}, 1033)
      .add("f64_at4", DType::F64, {2}, 1044)   // needs 8
      .add("u8_odd", DType::U8, {5}, 1061)     // needs 1: fine
      .add("q8_odd", DType::Q8_0, {32}, 1067); // F16 scale: needs 2
  auto plan = plan_with(b.table, {});
  ASSERT_TRUE(plan.ok()) << plan.error().to_string();
  auto placement_of = [&](size_t i) { return plan->tensors[i].placement; };
  EXPECT_EQ(placement_of(0), Placement::kCopy);
  EXPECT_EQ(placement_of(1), Placement::kCopy);
  EXPECT_EQ(placement_of(2), Placement::kMap);
  EXPECT_EQ(placement_of(3), Placement::kMap);
  EXPECT_EQ(placement_of(4), Placement::kCopy);
  EXPECT_EQ(placement_of(5), Placement::kCopy);
  EXPECT_EQ(placement_of(6), Placement::kCopy);
  EXPECT_EQ(placement_of(7), Placement::kMap);
  EXPECT_EQ(placement_of(8), Placement::kCopy);
  // The reason names the offset and the alignment that was needed.
  EXPECT_TRUE(contains(plan->tensors[0].reason, "1001")) << plan->tensors[0].reason;
  EXPECT_TRUE(contains(plan->tensors[0].reason, "4-byte aligned")) << plan->tensors[0].reason;
  EXPECT_TRUE(contains(plan->tensors[0].reason, "F32")) << plan->tensors[0].reason;
  EXPECT_TRUE(contains(plan->tensors[4].reason, "2-byte aligned")) << plan->tensors[4].reason;
  EXPECT_TRUE(contains(plan->tensors[6].reason, "8-byte aligned")) << plan->tensors[6].reason;
  EXPECT_TRUE(contains(plan->tensors[8].reason, "2-byte aligned")) << plan->tensors[8].reason;
  for (size_t i : {2, 3, 7}) EXPECT_TRUE(plan->tensors[i].reason.empty()) << plan->tensors[i].reason;
  // Some tensors still map, so the file is mapped.
  EXPECT_TRUE(plan->map_file[0]);
  expect_totals_add_up(b.table, *plan);
}

TEST(Planner, DeviceAlignmentIsRaisedToTheDtypes) {
  DeviceCaps wide{"wide", true, 64, {}};
  EXPECT_EQ(wide.required_alignment(DType::F32), 64u);
  EXPECT_EQ(wide.required_alignment(DType::U8), 64u);
  DeviceCaps cpu = cpu_device_caps();
  EXPECT_EQ(cpu.required_alignment(DType::F32), 4u);
  EXPECT_EQ(cpu.required_alignment(DType::F16), 2u);
  EXPECT_EQ(cpu.required_alignment(DType::F64), 8u);
  EXPECT_EQ(cpu.required_alignment(DType::I64), 8u);
  EXPECT_EQ(cpu.required_alignment(DType::U8), 1u);
  EXPECT_EQ(cpu.required_alignment(DType::Q8_0), 2u);
  EXPECT_EQ(cpu.required_alignment(DType::Q4_0), 2u);
  EXPECT_EQ(sim_device_caps().required_alignment(DType::F32), 256u);

  TableBuilder b;
  b.add_file("/m/a.gguf");
  b.add("at64", DType::F32, {4}, 128).add("at32", DType::F32, {4}, 160);
  auto plan = make_plan(b.table, {wide}, {});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->tensors[0].placement, Placement::kMap);
  EXPECT_EQ(plan->tensors[1].placement, Placement::kCopy);
  EXPECT_TRUE(contains(plan->tensors[1].reason, "64-byte aligned")) << plan->tensors[1].reason;
  EXPECT_TRUE(contains(plan->tensors[1].reason, "wide")) << plan->tensors[1].reason;
}

TEST(Planner, SimCannotReadHostMemorySoEverythingIsCopied) {
  TableBuilder b = aligned_model();
  auto plan = plan_with(b.table, rules("sim"));
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->map_file[0]);
  for (const TensorPlan& p : plan->tensors) {
    EXPECT_EQ(p.device, 1u);
    EXPECT_EQ(p.placement, Placement::kCopy);
    EXPECT_FALSE(p.host_resident);
    EXPECT_TRUE(contains(p.reason, "cannot read host memory")) << p.reason;
    EXPECT_TRUE(contains(p.reason, "sim")) << p.reason;
  }
  EXPECT_EQ(plan->bytes_copied, b.table.total_tensor_bytes());
  expect_totals_add_up(b.table, *plan);
}

TEST(Planner, DeviceRulesMatchQualifiedNames) {
  TableBuilder b;
  b.add_file("/m/te.gguf", "text_encoder");
  b.add_file("/m/tr.safetensors", "transformer");
  b.add("w", DType::F32, {4}, 64, 0).add("w", DType::F32, {4}, 64, 1).add("b", DType::F32, {4}, 80, 1);
  auto plan = plan_with(b.table, rules("text_encoder.*=cpu,*=sim"));
  ASSERT_TRUE(plan.ok()) << plan.error().to_string();
  EXPECT_EQ(plan->tensors[0].device, 0u);
  EXPECT_EQ(plan->tensors[0].placement, Placement::kMap);
  EXPECT_EQ(plan->tensors[1].device, 1u);
  EXPECT_EQ(plan->tensors[1].placement, Placement::kCopy);
  EXPECT_EQ(plan->tensors[2].device, 1u);
  EXPECT_TRUE(plan->map_file[0]);
  EXPECT_FALSE(plan->map_file[1]);

  // A rule that matches nothing leaves tensors on devices[0].
  auto none = plan_with(b.table, rules("vae.*=sim"));
  ASSERT_TRUE(none.ok());
  for (const TensorPlan& p : none->tensors) EXPECT_EQ(p.device, 0u);
}

TEST(Planner, OffloadKeepsSimTensorsHostResidentAndMapped) {
  TableBuilder b;
  b.add_file("/m/t.safetensors");
  b.add("aligned", DType::F32, {8}, 64).add("unaligned", DType::F32, {8}, 98).add("f16", DType::F16, {8}, 130);
  PlanOptions o = rules("sim");
  o.offload_to_cpu = true;
  auto plan = plan_with(b.table, o);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->map_file[0]);
  for (const TensorPlan& p : plan->tensors) {
    EXPECT_EQ(p.device, 1u);  // still assigned to sim ...
    EXPECT_TRUE(p.host_resident);  // ... but kept in host memory
    EXPECT_TRUE(contains(p.reason, "offloaded: host-resident for sim")) << p.reason;
  }
  EXPECT_EQ(plan->tensors[0].placement, Placement::kMap);
  EXPECT_EQ(plan->tensors[2].placement, Placement::kMap);
  // Host reads need only the dtype's alignment, not sim's 256 bytes; but F32
  // at an offset of 98 is still copied, with both reasons.
  EXPECT_EQ(plan->tensors[1].placement, Placement::kCopy);
  EXPECT_TRUE(contains(plan->tensors[1].reason, "4-byte aligned")) << plan->tensors[1].reason;
  EXPECT_FALSE(contains(plan->tensors[1].reason, "cannot read host memory")) << plan->tensors[1].reason;
  expect_totals_add_up(b.table, *plan);

  // Offload changes nothing for cpu tensors.
  PlanOptions cpu_only;
  cpu_only.offload_to_cpu = true;
  auto cpu_plan = plan_with(b.table, cpu_only);
  ASSERT_TRUE(cpu_plan.ok());
  for (const TensorPlan& p : cpu_plan->tensors) EXPECT_FALSE(p.host_resident);
  EXPECT_TRUE(cpu_plan->tensors[0].reason.empty());
}

TEST(Planner, OffloadWithNoMmapCopiesIntoHostMemory) {
  TableBuilder b = aligned_model();
  PlanOptions o = rules("sim");
  o.offload_to_cpu = true;
  o.use_mmap = false;
  auto plan = plan_with(b.table, o);
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->map_file[0]);
  for (const TensorPlan& p : plan->tensors) {
    EXPECT_TRUE(p.host_resident);
    EXPECT_EQ(p.placement, Placement::kCopy);
    EXPECT_TRUE(contains(p.reason, "mmap disabled")) << p.reason;
  }
}

TEST(Planner, CatchAllTypeRuleConvertsFloatsAndLeavesTheRest) {
  TableBuilder b = aligned_model();  // F16, F32, Q8_0, I32, BF16
  auto plan = plan_with(b.table, rules("", "F16"));
  ASSERT_TRUE(plan.ok()) << plan.error().to_string();
  const auto& t = plan->tensors;
  // F16 stays F16 and is mapped.
  EXPECT_EQ(t[0].placement, Placement::kMap);
  EXPECT_EQ(t[0].dtype, DType::F16);
  // F32 {64} -> F16: 128 bytes.
  EXPECT_EQ(t[1].placement, Placement::kConvert);
  EXPECT_EQ(t[1].dtype, DType::F16);
  EXPECT_EQ(t[1].nbytes, 128u);
  EXPECT_TRUE(contains(t[1].reason, "F32 -> F16")) << t[1].reason;
  // Q8_0 {64,64} -> F16: 4096 elements, 8192 bytes.
  EXPECT_EQ(t[2].placement, Placement::kConvert);
  EXPECT_EQ(t[2].nbytes, 8192u);
  EXPECT_TRUE(contains(t[2].reason, "Q8_0 -> F16")) << t[2].reason;
  // I32 cannot become F16: left alone, mapped.
  EXPECT_EQ(t[3].placement, Placement::kMap);
  EXPECT_EQ(t[3].dtype, DType::I32);
  EXPECT_TRUE(t[3].reason.empty());
  // BF16 -> F16.
  EXPECT_EQ(t[4].placement, Placement::kConvert);
  EXPECT_EQ(t[4].nbytes, 64u);
  EXPECT_TRUE(plan->map_file[0]);
  expect_totals_add_up(b.table, *plan);
  EXPECT_EQ(plan->bytes_converted, b.table.tensors()[1].nbytes + b.table.tensors()[2].nbytes + b.table.tensors()[4].nbytes);
}

TEST(Planner, CatchAllTypeRuleWithExplicitStarPattern) {
  TableBuilder b = aligned_model();
  auto plan = plan_with(b.table, rules("", "*=F32"));
  ASSERT_TRUE(plan.ok()) << plan.error().to_string();
  EXPECT_EQ(plan->tensors[0].placement, Placement::kConvert);  // F16 -> F32
  EXPECT_EQ(plan->tensors[0].nbytes, 16u * 64 * 4);
  EXPECT_EQ(plan->tensors[1].placement, Placement::kMap);      // already F32
  EXPECT_EQ(plan->tensors[2].placement, Placement::kConvert);  // Q8_0 -> F32
  EXPECT_EQ(plan->tensors[2].nbytes, 64u * 64 * 4);
  EXPECT_EQ(plan->tensors[3].placement, Placement::kMap);      // I32 untouched
}

TEST(Planner, AllFilesMapWhenOnlySomeTensorsConvert) {
  TableBuilder b;
  b.add_file("/m/a.gguf");
  b.add_file("/m/b.gguf");
  b.add("a", DType::F32, {4}, 64, 0).add("b", DType::F16, {4}, 64, 1);
  auto plan = plan_with(b.table, rules("", "a=F16"));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->tensors[0].placement, Placement::kConvert);
  EXPECT_EQ(plan->tensors[1].placement, Placement::kMap);
  // Nothing of file 0 is used in place: it is not mapped.
  EXPECT_FALSE(plan->map_file[0]);
  EXPECT_TRUE(plan->map_file[1]);
}

TEST(Planner, NamedTypeRuleThatCannotConvertIsAnErrorNamingTheTensor) {
  TableBuilder b = aligned_model();
  auto plan = plan_with(b.table, rules("", "ids=F16"));
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().tensor, "ids");
  EXPECT_EQ(plan.error().file, "/m/enc.gguf");
  EXPECT_EQ(plan.error().offset, b.table.tensors()[3].offset);
  EXPECT_TRUE(contains(plan.error().message, "I32")) << plan.error().message;
  EXPECT_TRUE(contains(plan.error().message, "F16")) << plan.error().message;

  // A quantised type without a dequantiser (IQ2_XXS: no codec): no silent pass either.
  TableBuilder k;
  k.add_file("/m/k.gguf");
  k.add("k.weight", DType::IQ2_XXS, {256}, 0);
  auto kp = plan_with(k.table, rules("", "k.*=F32"));
  ASSERT_FALSE(kp.ok());
  EXPECT_EQ(kp.error().tensor, "k.weight");
  EXPECT_TRUE(contains(kp.error().message, "cannot convert IQ2_XXS to F32")) << kp.error().message;
}

TEST(Planner, OtherConversionTargets) {
  TableBuilder b;
  b.add_file("/m/x.safetensors");
  b.add("d", DType::F64, {3}, 0)
      .add("i", DType::I64, {3}, 24)
      .add("e4", DType::F8_E4M3, {5}, 48)
      .add("e5", DType::F8_E5M2, {5}, 53)
      .add("q4", DType::Q4_0, {64}, 58);
  auto plan = plan_with(b.table, rules("", "d=F32,i=I32,e4=F16,e5=F32,q4=F32"));
  ASSERT_TRUE(plan.ok()) << plan.error().to_string();
  std::vector<uint64_t> want_nbytes = {12, 12, 10, 20, 256};
  std::vector<DType> want_dtype = {DType::F32, DType::I32, DType::F16, DType::F32, DType::F32};
  for (size_t i = 0; i < want_nbytes.size(); ++i) {
    EXPECT_EQ(plan->tensors[i].placement, Placement::kConvert) << i;
    EXPECT_EQ(plan->tensors[i].dtype, want_dtype[i]) << i;
    EXPECT_EQ(plan->tensors[i].nbytes, want_nbytes[i]) << i;
  }
  EXPECT_FALSE(plan->map_file[0]);
  EXPECT_EQ(plan->bytes_converted, b.table.total_tensor_bytes());

  // The other way round is not a conversion weightmap has.
  auto back = plan_with(b.table, rules("", "d=I64"));
  EXPECT_FALSE(back.ok());
}

TEST(Planner, UnknownDeviceOrDtypeNamesAreErrors) {
  TableBuilder b = aligned_model();
  auto dev = plan_with(b.table, rules("gpu"));
  ASSERT_FALSE(dev.ok());
  EXPECT_TRUE(contains(dev.error().message, "unknown device 'gpu'")) << dev.error().message;
  EXPECT_EQ(dev.error().file, "/m/enc.gguf");
  EXPECT_FALSE(dev.error().tensor.empty());

  auto ty = plan_with(b.table, rules("", "F17"));
  ASSERT_FALSE(ty.ok());
  EXPECT_TRUE(contains(ty.error().message, "unknown dtype 'F17'")) << ty.error().message;

  auto no_devices = make_plan(b.table, {}, {});
  EXPECT_FALSE(no_devices.ok());
}

TEST(Planner, DeviceThatDoesNotTakeADtypeNeedsATypeRule) {
  DeviceCaps f16_only{"half", true, 1, {DType::F16}};
  TableBuilder b;
  b.add_file("/m/a.gguf");
  b.add("w", DType::F32, {4}, 64);
  auto plan = make_plan(b.table, {f16_only}, {});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().tensor, "w");
  EXPECT_TRUE(contains(plan.error().message, "--type")) << plan.error().message;

  auto with_rule = make_plan(b.table, {f16_only}, rules("", "F16"));
  ASSERT_TRUE(with_rule.ok()) << with_rule.error().to_string();
  EXPECT_EQ(with_rule->tensors[0].placement, Placement::kConvert);
  EXPECT_EQ(with_rule->tensors[0].dtype, DType::F16);

  // A type rule must not convert into a dtype the device does not take either.
  auto wrong_target = make_plan(b.table, {f16_only}, rules("", "BF16"));
  ASSERT_FALSE(wrong_target.ok());
  EXPECT_EQ(wrong_target.error().tensor, "w");
  EXPECT_TRUE(contains(wrong_target.error().message, "BF16")) << wrong_target.error().message;
}

TEST(Planner, UnmappableFilesAreCopiedWithTheReason) {
  TableBuilder b;
  b.add_file("/m/a.gguf");
  b.add_file("/m/b.gguf");
  b.add("a", DType::F32, {4}, 64, 0).add("b", DType::F32, {4}, 64, 1).add("c", DType::F16, {4}, 96, 1);
  PlanOptions o;
  o.unmappable = {"", "zero-sized file cannot be mapped"};
  auto plan = plan_with(b.table, o);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->map_file[0]);
  EXPECT_FALSE(plan->map_file[1]);
  EXPECT_EQ(plan->tensors[0].placement, Placement::kMap);
  for (size_t i : {1, 2}) {
    EXPECT_EQ(plan->tensors[i].placement, Placement::kCopy);
    EXPECT_TRUE(contains(plan->tensors[i].reason, "file not mapped: zero-sized file cannot be mapped"))
        << plan->tensors[i].reason;
  }
  expect_totals_add_up(b.table, *plan);
}

TEST(Planner, ShortUnmappableListDoesNotReadPastItsEnd) {
  TableBuilder b;
  b.add_file("/m/a.gguf");
  b.add_file("/m/b.gguf");
  b.add("a", DType::F32, {4}, 64, 0).add("b", DType::F32, {4}, 64, 1);
  PlanOptions o;
  o.unmappable = {"broken"};  // says nothing about file 1
  auto plan = plan_with(b.table, o);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->tensors[0].placement, Placement::kCopy);
  EXPECT_EQ(plan->tensors[1].placement, Placement::kMap);
}

TEST(Planner, MixedPlanTotalsAddUp) {
  TableBuilder b;
  b.add_file("/m/te.gguf", "text_encoder");
  b.add_file("/m/tr.safetensors", "transformer");
  b.add("a", DType::F32, {100}, 64, 0)
      .add("b", DType::Q8_0, {2, 64}, 512, 0)
      .add("c", DType::BF16, {7}, 9, 1)
      .add("d", DType::F32, {5}, 23, 1)
      .add("e", DType::F16, {9}, 43, 1)
      .add("f", DType::I64, {2}, 64, 1);
  auto plan = plan_with(b.table, rules("transformer.*=sim", "text_encoder.b=F32,transformer.c=F32"));
  ASSERT_TRUE(plan.ok()) << plan.error().to_string();
  EXPECT_EQ(plan->tensors[0].placement, Placement::kMap);
  EXPECT_EQ(plan->tensors[1].placement, Placement::kConvert);
  EXPECT_EQ(plan->tensors[2].placement, Placement::kConvert);
  EXPECT_EQ(plan->tensors[2].device, 1u);
  for (size_t i : {3, 4, 5}) EXPECT_EQ(plan->tensors[i].placement, Placement::kCopy);
  expect_totals_add_up(b.table, *plan);
  EXPECT_EQ(plan->bytes_mapped, 400u);
  EXPECT_EQ(plan->bytes_converted, 2u * 34 * 2 + 14);
  EXPECT_EQ(plan->bytes_copied, 20u + 18 + 16);
}

// A rule that decides nothing (matches no tensor, or only tensors an earlier
// rule took) is reported, never silently ignored.
TEST(Planner, RulesThatDecideNoTensorAreListed) {
  TableBuilder b;
  b.add_file("/m/te.gguf", "text_encoder");
  b.add("a", DType::F32, {100}, 64, 0).add("b", DType::F16, {8}, 464, 0);
  auto plan = plan_with(b.table, rules("text_encoder.*=cpu,text_encoder.a=sim,vae.*=sim", "unet.*=F16,*=F32"));
  ASSERT_TRUE(plan.ok()) << plan.error().to_string();
  EXPECT_EQ(plan->unused_rules,
            (std::vector<std::string>{"--device 'text_encoder.a=sim'", "--device 'vae.*=sim'", "--type 'unet.*=F16'"}));
  auto all_used = plan_with(b.table, rules("text_encoder.a=sim", "*=F32"));
  ASSERT_TRUE(all_used.ok());
  EXPECT_TRUE(all_used->unused_rules.empty());
}

TEST(Planner, PlacementNames) {
  EXPECT_STREQ(placement_name(Placement::kMap), "map");
  EXPECT_STREQ(placement_name(Placement::kCopy), "copy");
  EXPECT_STREQ(placement_name(Placement::kConvert), "convert");
}

TEST(Planner, AvailableDevicesAreCpuThenSim) {
  auto devices = make_devices({});
  ASSERT_TRUE(devices.ok());
  auto d = device_caps_of(*devices);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].name, "cpu");
  EXPECT_TRUE(d[0].reads_host_memory);
  EXPECT_EQ(d[1].name, "sim");
  EXPECT_FALSE(d[1].reads_host_memory);
  EXPECT_EQ(d[1].alignment, 256u);
}

}  // namespace
}  // namespace wm
