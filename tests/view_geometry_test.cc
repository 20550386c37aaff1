// format/view_geometry.h: the last storage element a strided view reaches
// and whether it is contiguous, checked against sums worked out by hand
// (PyTorch's own rule: offset + sum((size - 1) * stride)).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "format/view_geometry.h"

namespace wm {
namespace {

using Dims = std::vector<uint64_t>;

TEST(ViewGeometry, RowMajorIsContiguousAndReachesItsLastElement) {
  auto g = view_geometry(Dims{4, 6}, Dims{6, 1}, 0);
  ASSERT_TRUE(g.has_value());
  EXPECT_TRUE(g->contiguous);
  EXPECT_EQ(g->last_element, 23u);  // 3*6 + 5*1
  auto shifted = view_geometry(Dims{4, 6}, Dims{6, 1}, 10);
  ASSERT_TRUE(shifted.has_value());
  EXPECT_EQ(shifted->last_element, 33u);
}

TEST(ViewGeometry, TransposedStridedAndExpandedViewsAreNot) {
  auto t = view_geometry(Dims{6, 4}, Dims{1, 6}, 0);  // m.t() of a 4x6
  ASSERT_TRUE(t.has_value());
  EXPECT_FALSE(t->contiguous);
  EXPECT_EQ(t->last_element, 5u + 3u * 6u);
  auto s = view_geometry(Dims{2, 3}, Dims{12, 2}, 1);  // m[::2, ::2] style
  ASSERT_TRUE(s.has_value());
  EXPECT_FALSE(s->contiguous);
  EXPECT_EQ(s->last_element, 1u + 12u + 4u);
  auto e = view_geometry(Dims{3, 4}, Dims{0, 1}, 0);  // expand: stride 0
  ASSERT_TRUE(e.has_value());
  EXPECT_FALSE(e->contiguous);
  EXPECT_EQ(e->last_element, 3u);
}

TEST(ViewGeometry, SizeOneDimensionsIgnoreTheirStrideAndEmptyViewsAreContiguous) {
  auto one = view_geometry(Dims{1, 5}, Dims{999, 1}, 2);
  ASSERT_TRUE(one.has_value());
  EXPECT_TRUE(one->contiguous);
  EXPECT_EQ(one->last_element, 6u);
  auto empty = view_geometry(Dims{0, 5}, Dims{1, 7}, 0);
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->contiguous);
  auto scalar = view_geometry(Dims{}, Dims{}, 4);
  ASSERT_TRUE(scalar.has_value());
  EXPECT_TRUE(scalar->contiguous);
  EXPECT_EQ(scalar->last_element, 4u);
}

TEST(ViewGeometry, OverflowIsRefused) {
  EXPECT_FALSE(view_geometry(Dims{3}, Dims{uint64_t{1} << 63}, 0).has_value());  // 2 * 2^63
  EXPECT_FALSE(view_geometry(Dims{2}, Dims{UINT64_MAX}, 1).has_value());         // offset + stride
}

}  // namespace
}  // namespace wm
