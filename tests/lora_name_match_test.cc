// Name matching for every LoRA naming convention, prefix rules, dots read as
// underscores, and every way a LoRA tensor can end up unused (listed, with
// its reason).
#include <gtest/gtest.h>

#include <algorithm>

#include "lora/name_match.h"

namespace wm {
namespace {

struct Matched {
  LoraNameMatch m;
  std::vector<std::string> base;
  // base name of the pair whose stem is `stem`, or "" when not matched.
  std::string base_of(const std::string& stem) const {
    for (const auto& p : m.pairs)
      if (p.stem == stem) return base[p.base];
    return "";
  }
  std::string reason_of(const std::string& lora_tensor) const {
    for (const auto& u : m.unmatched)
      if (u.tensor == lora_tensor) return u.reason;
    return "";
  }
};

Matched match(std::vector<std::string> base, std::vector<std::string> lora, std::vector<LoraPrefixRule> rules = {}) {
  BaseNameIndex index(base);
  return {match_lora_names(lora, index, rules), std::move(base)};
}

TEST(LoraNames, SplitsEverySuffix) {
  struct Case {
    const char* name;
    const char* stem;
    LoraRole role;
  } cases[] = {
      {"a.b.lora_A.weight", "a.b", LoraRole::kDown},        {"a.b.lora_B.weight", "a.b", LoraRole::kUp},
      {"lora_unet_x_y.lora_down.weight", "lora_unet_x_y", LoraRole::kDown},
      {"lora_unet_x_y.lora_up.weight", "lora_unet_x_y", LoraRole::kUp},
      {"lora_unet_x_y.alpha", "lora_unet_x_y", LoraRole::kAlpha},
      {"m.attn.to_q.lora.down.weight", "m.attn.to_q", LoraRole::kDown},
      {"m.attn.to_q.lora.up.weight", "m.attn.to_q", LoraRole::kUp},
      {"blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight", LoraRole::kDown},
      {"blk.0.attn_q.weight.lora_b", "blk.0.attn_q.weight", LoraRole::kUp},
  };
  for (const auto& c : cases) {
    auto parts = split_lora_name(c.name);
    ASSERT_TRUE(parts.has_value()) << c.name;
    EXPECT_EQ(parts->stem, c.stem) << c.name;
    EXPECT_EQ(parts->role, c.role) << c.name;
  }
  EXPECT_FALSE(split_lora_name("model.weight").has_value());
  EXPECT_FALSE(split_lora_name(".lora_A.weight").has_value());  // no stem
  EXPECT_FALSE(split_lora_name("").has_value());
}

TEST(LoraNames, PeftMatchesExactlyAndThroughItsWrapperPrefix) {
  auto r = match({"model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight"},
                 {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
                  "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
                  "model.layers.0.self_attn.k_proj.lora_A.weight", "model.layers.0.self_attn.k_proj.lora_B.weight"});
  EXPECT_EQ(r.base_of("base_model.model.model.layers.0.self_attn.q_proj"), "model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(r.base_of("model.layers.0.self_attn.k_proj"), "model.layers.0.self_attn.k_proj.weight");
  EXPECT_TRUE(r.m.unmatched.empty());
}

TEST(LoraNames, KohyaUnetAndTextEncoderMapThroughPrefixesWithDotsAsUnderscores) {
  auto r = match({"model.diffusion_model.input_blocks.1.1.proj_in.weight",
                  "cond_stage_model.transformer.text_model.encoder.layers.0.mlp.fc1.weight",
                  "model.diffusion_model.out.2.bias"},
                 {"lora_unet_input_blocks_1_1_proj_in.lora_down.weight",
                  "lora_unet_input_blocks_1_1_proj_in.lora_up.weight", "lora_unet_input_blocks_1_1_proj_in.alpha",
                  "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight",
                  "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight"});
  ASSERT_EQ(r.m.pairs.size(), 2u);
  EXPECT_EQ(r.base_of("lora_unet_input_blocks_1_1_proj_in"), "model.diffusion_model.input_blocks.1.1.proj_in.weight");
  EXPECT_EQ(r.base_of("lora_te_text_model_encoder_layers_0_mlp_fc1"),
            "cond_stage_model.transformer.text_model.encoder.layers.0.mlp.fc1.weight");
  for (const auto& p : r.m.pairs)
    if (p.stem == "lora_unet_input_blocks_1_1_proj_in") {
      EXPECT_EQ(p.alpha, "lora_unet_input_blocks_1_1_proj_in.alpha");
    }
  EXPECT_TRUE(r.m.unmatched.empty());
}

TEST(LoraNames, KohyaSdxlTextEncodersAndDiffusersFolderComponents) {
  auto r = match({"conditioner.embedders.0.transformer.text_model.encoder.layers.3.self_attn.q_proj.weight",
                  "unet.down_blocks.0.attentions.0.proj_in.weight"},
                 {"lora_te1_text_model_encoder_layers_3_self_attn_q_proj.lora_down.weight",
                  "lora_te1_text_model_encoder_layers_3_self_attn_q_proj.lora_up.weight",
                  "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight",
                  "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight"});
  EXPECT_EQ(r.base_of("lora_te1_text_model_encoder_layers_3_self_attn_q_proj"),
            "conditioner.embedders.0.transformer.text_model.encoder.layers.3.self_attn.q_proj.weight");
  EXPECT_EQ(r.base_of("lora_unet_down_blocks_0_attentions_0_proj_in"),
            "unet.down_blocks.0.attentions.0.proj_in.weight");
}

TEST(LoraNames, DiffusersAndLlamaCppConventions) {
  auto r = match({"transformer_blocks.0.attn.to_q.weight", "blk.0.attn_q.weight"},
                 {"transformer_blocks.0.attn.to_q.lora.down.weight", "transformer_blocks.0.attn.to_q.lora.up.weight",
                  "blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b"});
  EXPECT_EQ(r.base_of("transformer_blocks.0.attn.to_q"), "transformer_blocks.0.attn.to_q.weight");
  EXPECT_EQ(r.base_of("blk.0.attn_q.weight"), "blk.0.attn_q.weight");
}

TEST(LoraNames, UserPrefixRulesComeFirst) {
  // Without the rule the kohya stem finds nothing; with it, it does.
  std::vector<std::string> base{"net.blocks.0.ff.weight"};
  std::vector<std::string> lora{"lora_x_blocks_0_ff.lora_down.weight", "lora_x_blocks_0_ff.lora_up.weight"};
  EXPECT_EQ(match(base, lora).base_of("lora_x_blocks_0_ff"), "");
  EXPECT_EQ(match(base, lora, {{"lora_x_", "net."}}).base_of("lora_x_blocks_0_ff"), "net.blocks.0.ff.weight");
  // A user rule wins over a default rule that would match another tensor.
  auto r = match({"model.diffusion_model.a.weight", "mine.a.weight"},
                 {"lora_unet_a.lora_down.weight", "lora_unet_a.lora_up.weight"}, {{"lora_unet_", "mine."}});
  EXPECT_EQ(r.base_of("lora_unet_a"), "mine.a.weight");
}

TEST(LoraNames, EveryUnusedTensorIsListedWithItsReason) {
  auto r = match({"a.b.weight", "p.q_r.weight", "p_q.r.weight"},
                 {"a.b.lora_A.weight",                          // no up factor
                  "c.d.lora_A.weight", "c.d.lora_B.weight",    // no base tensor
                  "lora_unet_p_q_r.lora_down.weight", "lora_unet_p_q_r.lora_up.weight",  // two bases
                  "some.other.tensor",                          // not a LoRA name
                  "e.alpha",                                    // alpha alone
                  "a.b.lora_down.weight"});                     // second down factor for a.b
  EXPECT_TRUE(r.m.pairs.empty());
  EXPECT_EQ(r.m.unmatched.size(), 8u);
  EXPECT_NE(r.reason_of("a.b.lora_A.weight").find("no matching up"), std::string::npos);
  EXPECT_NE(r.reason_of("c.d.lora_A.weight").find("no base tensor"), std::string::npos);
  EXPECT_NE(r.reason_of("c.d.lora_B.weight").find("no base tensor"), std::string::npos);
  EXPECT_NE(r.reason_of("lora_unet_p_q_r.lora_down.weight").find("ambiguous"), std::string::npos);
  EXPECT_NE(r.reason_of("some.other.tensor").find("not a LoRA factor name"), std::string::npos);
  EXPECT_NE(r.reason_of("e.alpha").find("alpha without"), std::string::npos);
  EXPECT_NE(r.reason_of("a.b.lora_down.weight").find("second factor"), std::string::npos);
}

TEST(LoraNames, ExactBeatsUnderscoredSoDottedNamesAreNotAmbiguous) {
  // "x.y_z" exists exactly; "x_y.z" normalises the same but must not compete.
  auto r = match({"x.y_z.weight", "x_y.z.weight"}, {"x.y_z.lora_A.weight", "x.y_z.lora_B.weight"});
  EXPECT_EQ(r.base_of("x.y_z"), "x.y_z.weight");
}

TEST(LoraSpecs, ParseFileStrengthAndPrefixRules) {
  auto a = parse_lora_spec("style.safetensors:0.75");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->path, "style.safetensors");
  EXPECT_FLOAT_EQ(a->strength, 0.75f);
  auto b = parse_lora_spec("/tmp/x:y/lora.gguf");  // ':' inside a path is not a strength
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->path, "/tmp/x:y/lora.gguf");
  EXPECT_FLOAT_EQ(b->strength, 1.0f);
  auto c = parse_lora_spec("l.safetensors:-1.5");
  ASSERT_TRUE(c.ok());
  EXPECT_FLOAT_EQ(c->strength, -1.5f);
  EXPECT_FALSE(parse_lora_spec(":0.5").ok());
  EXPECT_FALSE(parse_lora_spec("").ok());
  auto p = parse_lora_prefix_rule("lora_unet_=model.diffusion_model.");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->from, "lora_unet_");
  EXPECT_EQ(p->to, "model.diffusion_model.");
  EXPECT_TRUE(parse_lora_prefix_rule("strip.=").ok());
  EXPECT_FALSE(parse_lora_prefix_rule("=x").ok());
  EXPECT_FALSE(parse_lora_prefix_rule("nothing").ok());
  EXPECT_EQ(lora_mode_from_name("at_runtime"), LoraApplyMode::kAtRuntime);
  EXPECT_EQ(lora_mode_from_name("immediately"), LoraApplyMode::kImmediately);
  EXPECT_EQ(lora_mode_from_name("auto"), LoraApplyMode::kAuto);
  EXPECT_FALSE(lora_mode_from_name("later").has_value());
}

}  // namespace
}  // namespace wm
