// LoraFile reads factors as F32 the way the loader reads tensors: a LoRA in a
// PyTorch checkpoint may hold non-contiguous views and deflated entries,
// which are not a plain byte range at the tensor's offset. Checked against
// the numpy references of scripts/make_torch_fixtures.py.
#include <gtest/gtest.h>

#include <cstring>

#include "dtype/half.h"
#include "lora/lora_file.h"
#include "test_support.h"
#include "torch_reference.h"

namespace wm {
namespace {

class LoraFileTorch : public ::testing::TestWithParam<const char*> {};

TEST_P(LoraFileTorch, EveryFloatFactorReadsAsItsReferenceValues) {
  auto file = LoraFile::open(test::torch_fixture(GetParam()));
  ASSERT_TRUE(file.ok()) << file.error().to_string();
  size_t checked = 0;
  for (const auto& ref : test::read_refs(test::torch_fixture(GetParam()))) {
    if (ref.dtype != "F32" && ref.dtype != "F16") continue;
    SCOPED_TRACE(ref.name);
    auto got = file->read_f32(file->tensor(ref.name));
    ASSERT_TRUE(got.ok()) << got.error().to_string();
    const size_t es = ref.dtype == "F32" ? 4 : 2;
    ASSERT_EQ(got->size(), ref.bytes.size() / es);
    for (size_t i = 0; i < got->size(); ++i) {
      float want;
      if (es == 4) {
        std::memcpy(&want, ref.bytes.data() + 4 * i, 4);
      } else {
        uint16_t h;
        std::memcpy(&h, ref.bytes.data() + 2 * i, 2);
        want = static_cast<float>(test::half_value(h));
      }
      EXPECT_EQ((*got)[i], want) << "element " << i;
    }
    ++checked;
  }
  EXPECT_GT(checked, 0u);
}

// views.pt: transposed, strided and expanded views (non-contiguous);
// views_deflated.pt: the same in deflated zip entries.
INSTANTIATE_TEST_SUITE_P(Fixtures, LoraFileTorch, ::testing::Values("views.pt", "views_deflated.pt", "views_legacy.pt"),
                         [](const auto& p) {
                           std::string n = p.param;
                           for (char& c : n)
                             if (c == '.') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace wm
