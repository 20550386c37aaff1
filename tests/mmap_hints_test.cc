// Hint tokens from --hints and WEIGHTMAP_MMAP_HINTS: parsing, errors, and
// which source wins.
#include <gtest/gtest.h>

#include <cstdlib>

#include "io/mmap_hints.h"
#include "test_support.h"

namespace wm {
namespace {

TEST(MmapHints, ParsesTokensCaseInsensitivelyIgnoringSpaces) {
  auto h = parse_mmap_hints(" Sequential , WILLNEED,dontneed ", "--hints");
  ASSERT_TRUE(h.ok()) << h.error().to_string();
  EXPECT_TRUE(h->has(MmapHint::kSequential));
  EXPECT_TRUE(h->has(MmapHint::kWillneed));
  EXPECT_TRUE(h->has(MmapHint::kDontneed));
  EXPECT_FALSE(h->has(MmapHint::kRandom));
  EXPECT_FALSE(h->has(MmapHint::kPopulate));
  EXPECT_EQ(h->to_string(), "sequential,willneed,dontneed");
}

TEST(MmapHints, NoneMeansNoHints) {
  auto h = parse_mmap_hints("none", "--hints");
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->empty());
  EXPECT_EQ(h->to_string(), "none");
}

TEST(MmapHints, UnknownTokenIsAnErrorNamingItAndTheSource) {
  auto h = parse_mmap_hints("sequential,prefetchall", "WEIGHTMAP_MMAP_HINTS");
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message.find("prefetchall"), std::string::npos);
  EXPECT_NE(h.error().message.find("WEIGHTMAP_MMAP_HINTS"), std::string::npos);
}

TEST(MmapHints, ContradictionsAreErrors) {
  EXPECT_FALSE(parse_mmap_hints("none,populate", "x").ok());
  EXPECT_FALSE(parse_mmap_hints("sequential,random", "x").ok());
  EXPECT_FALSE(parse_mmap_hints("auto,populate", "x").ok());
  EXPECT_FALSE(parse_mmap_hints("", "x").ok());
  EXPECT_FALSE(parse_mmap_hints(" , ", "x").ok());
  auto ok = parse_mmap_hints("auto,dontneed", "x");
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->has(MmapHint::kAuto) && ok->has(MmapHint::kDontneed));
}

TEST(MmapHints, FlagWinsOverEnvironmentWhichWinsOverAuto) {
  wm::test::set_env("WEIGHTMAP_MMAP_HINTS", nullptr);
  auto def = resolve_mmap_hints(nullptr);
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(*def, MmapHints::automatic());

  wm::test::set_env("WEIGHTMAP_MMAP_HINTS", "random");
  auto env = resolve_mmap_hints(nullptr);
  ASSERT_TRUE(env.ok());
  EXPECT_TRUE(env->has(MmapHint::kRandom));

  std::string flag = "populate";
  auto f = resolve_mmap_hints(&flag);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->has(MmapHint::kPopulate));
  EXPECT_FALSE(f->has(MmapHint::kRandom));

  wm::test::set_env("WEIGHTMAP_MMAP_HINTS", "bogus");
  EXPECT_FALSE(resolve_mmap_hints(nullptr).ok());
  EXPECT_TRUE(resolve_mmap_hints(&flag).ok());  // the flag wins: the variable is not even read
  wm::test::set_env("WEIGHTMAP_MMAP_HINTS", nullptr);
}

}  // namespace
}  // namespace wm
