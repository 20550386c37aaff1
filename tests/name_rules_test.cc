// Name rules ("text_encoder.*=cpu,*=sim") and the glob matcher under them.
#include <gtest/gtest.h>

#include "plan/name_rules.h"

namespace wm {
namespace {

TEST(NameRules, ParsesPatternValuePairsInOrder) {
  auto r = NameRules::parse("text_encoder.*=cpu, *=sim");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_EQ(r->rules().size(), 2u);
  EXPECT_EQ(r->rules()[0].pattern, "text_encoder.*");
  EXPECT_EQ(r->rules()[0].value, "cpu");
  EXPECT_EQ(r->rules()[1].pattern, "*");
  EXPECT_EQ(r->rules()[1].value, "sim");
  EXPECT_EQ(r->match("text_encoder.blk.0.weight"), "cpu");
  EXPECT_EQ(r->match("transformer.proj_out.weight"), "sim");
  // "text_encoder.*" needs the dot: a name merely starting with the word is not it.
  EXPECT_EQ(r->match("text_encoder2"), "sim");
}

TEST(NameRules, FirstMatchingRuleWins) {
  auto r = NameRules::parse("*=sim,text_encoder.*=cpu");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->match("text_encoder.x"), "sim");
  const NameRule* rule = r->match_rule("text_encoder.x");
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->pattern, "*");
}

TEST(NameRules, BareValueMeansEverything) {
  auto r = NameRules::parse("F16");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->rules().size(), 1u);
  EXPECT_EQ(r->rules()[0].pattern, "*");
  EXPECT_EQ(r->rules()[0].value, "F16");
  EXPECT_EQ(r->match(""), "F16");
  EXPECT_EQ(r->match("anything.at.all"), "F16");
}

TEST(NameRules, EmptyTextAndEmptyItemsAreNoRules) {
  auto empty = NameRules::parse("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(empty->match("x"), std::nullopt);
  EXPECT_EQ(empty->match_rule("x"), nullptr);

  auto spaces = NameRules::parse(" , ,,  ");
  ASSERT_TRUE(spaces.ok());
  EXPECT_TRUE(spaces->empty());

  auto r = NameRules::parse(",a.*=cpu,, ,b.*=sim,");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->rules().size(), 2u);
  EXPECT_EQ(r->rules()[0].pattern, "a.*");
  EXPECT_EQ(r->rules()[1].pattern, "b.*");
  EXPECT_EQ(r->match("c.x"), std::nullopt);
}

TEST(NameRules, SpacesAroundItemsAreTrimmed) {
  auto r = NameRules::parse("   vae.*=F32   ,   sim  ");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->rules().size(), 2u);
  EXPECT_EQ(r->rules()[0].pattern, "vae.*");
  EXPECT_EQ(r->rules()[0].value, "F32");
  EXPECT_EQ(r->rules()[1].pattern, "*");
  EXPECT_EQ(r->rules()[1].value, "sim");
}

TEST(NameRules, MissingPatternOrValueIsAnError) {
  for (const char* bad : {"=cpu", "a.*=", "=", "x=cpu,=sim", "a=cpu, b= "}) {
    auto r = NameRules::parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find("PATTERN=VALUE"), std::string::npos) << r.error().message;
    }
  }
}

TEST(NameRules, AddAppendsAfterParsedRules) {
  NameRules r;
  EXPECT_TRUE(r.empty());
  r.add("a?", "one");
  r.add("*", "two");
  EXPECT_FALSE(r.empty());
  EXPECT_EQ(r.match("ab"), "one");
  EXPECT_EQ(r.match("abc"), "two");
}

TEST(NameRulesGlob, LiteralsMustMatchWhole) {
  EXPECT_TRUE(glob_match("abc", "abc"));
  EXPECT_FALSE(glob_match("abc", "abcd"));
  EXPECT_FALSE(glob_match("abcd", "abc"));
  EXPECT_FALSE(glob_match("abc", "abd"));
  EXPECT_FALSE(glob_match("ABC", "abc"));  // case-sensitive
}

TEST(NameRulesGlob, EmptyPatternAndText) {
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "a"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("***", ""));
  EXPECT_FALSE(glob_match("?", ""));
  EXPECT_FALSE(glob_match("a", ""));
  EXPECT_FALSE(glob_match("*a", ""));
}

TEST(NameRulesGlob, QuestionMarkIsExactlyOneCharacter) {
  EXPECT_TRUE(glob_match("a?c", "abc"));
  EXPECT_TRUE(glob_match("a?c", "a.c"));
  EXPECT_FALSE(glob_match("a?c", "ac"));
  EXPECT_FALSE(glob_match("a?c", "abbc"));
  EXPECT_TRUE(glob_match("???", "xyz"));
  EXPECT_FALSE(glob_match("???", "xy"));
  EXPECT_TRUE(glob_match("*?", "x"));
  EXPECT_FALSE(glob_match("*??", "x"));
}

TEST(NameRulesGlob, StarMatchesAnyRunIncludingEmpty) {
  EXPECT_TRUE(glob_match("*", "anything"));
  EXPECT_TRUE(glob_match("a*", "a"));
  EXPECT_TRUE(glob_match("a*", "abc"));
  EXPECT_TRUE(glob_match("*c", "abc"));
  EXPECT_TRUE(glob_match("*c", "c"));
  EXPECT_TRUE(glob_match("a*c", "ac"));
  EXPECT_TRUE(glob_match("a*c", "a.b.c"));
  EXPECT_FALSE(glob_match("a*c", "a.b.cd"));
  EXPECT_TRUE(glob_match("a**c", "abc"));
  EXPECT_TRUE(glob_match("*.weight", "blk.0.attn.weight"));
  EXPECT_FALSE(glob_match("*.weight", "blk.0.attn.bias"));
  EXPECT_TRUE(glob_match("text_encoder.*", "text_encoder."));
  EXPECT_FALSE(glob_match("text_encoder.*", "text_encoder"));
}

TEST(NameRulesGlob, BacktracksWhenTheFirstGuessFails) {
  // The first 'b' after the star is a false start; the matcher must retry.
  EXPECT_TRUE(glob_match("a*bc", "abxbc"));
  EXPECT_TRUE(glob_match("*ab", "aab"));
  EXPECT_TRUE(glob_match("*aab", "aaab"));
  EXPECT_TRUE(glob_match("*a*b*c", "xaybzc"));
  EXPECT_TRUE(glob_match("*a*b*c", "cbacbacbc"));
  EXPECT_FALSE(glob_match("*a*b*c", "cba"));
  EXPECT_TRUE(glob_match("blk.*.attn_?.weight", "blk.12.attn_q.weight"));
  EXPECT_FALSE(glob_match("blk.*.attn_?.weight", "blk.12.attn_qk.weight"));
  EXPECT_TRUE(glob_match("*.?.*", "a.b.c.d"));
  EXPECT_TRUE(glob_match("*x*x*x*", "axbxcx"));
  EXPECT_FALSE(glob_match("*x*x*x*", "axbxc"));
  // Pathological pattern: must finish quickly and be right.
  std::string text(2000, 'a');
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*b", text));
  EXPECT_TRUE(glob_match("*a*a*a*a*a*a*a", text));
}

}  // namespace
}  // namespace wm
