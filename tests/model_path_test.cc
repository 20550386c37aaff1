// What a user points at: single files, sharded indexes, a folder holding
// one model, diffusers-style folders whose subfolders become components,
// variant selection, and opening several paths as one table.
#include <gtest/gtest.h>

#include <filesystem>
#include <fmt/format.h>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "format/gguf_writer.h"
#include "format/model_path.h"
#include "format/safetensors_writer.h"
#include "test_support.h"

namespace wm {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_text;

std::vector<std::byte> pattern(uint64_t n, uint32_t seed) {
  std::vector<std::byte> out(n);
  for (uint64_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((i * 13 + seed) & 0xff);
  return out;
}

// A safetensors file with one [2, 2] tensor per name, all of `dtype`.
void write_st(const std::string& path, const std::vector<std::string>& names, DType dtype = DType::F32) {
  fs::create_directories(fs::path(path).parent_path());
  SafetensorsWriter w;
  uint64_t nbytes = 4 * dtype_info(dtype).block_bytes;
  uint32_t seed = 0;
  for (const auto& n : names) w.add_tensor(n, dtype, {2, 2}, TensorData::bytes(pattern(nbytes, seed++)));
  Status s = w.write(path);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
}

void write_gguf(const std::string& path, const std::vector<std::string>& names) {
  fs::create_directories(fs::path(path).parent_path());
  GgufWriter w;
  for (const auto& n : names) w.add_tensor(n, DType::F32, {2, 4}, TensorData::bytes(pattern(32, 1)));
  Status s = w.write(path);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
}

// A sharded model in `dir`: tensors split over `shards` files, plus index.
void write_sharded(const std::string& dir, const std::string& index_name, const std::string& shard_stem,
                   const std::vector<std::string>& names, size_t shards, DType dtype = DType::F32) {
  std::string map;
  for (size_t s = 0; s < shards; ++s) {
    std::string shard = fmt::format("{}-{:05}-of-{:05}.safetensors", shard_stem, s + 1, shards);
    std::vector<std::string> mine;
    for (size_t k = s; k < names.size(); k += shards) {
      mine.push_back(names[k]);
      map += fmt::format("{}\"{}\": \"{}\"", map.empty() ? "" : ", ", names[k], shard);
    }
    write_st(dir + "/" + shard, mine, dtype);
  }
  write_text(dir + "/" + index_name, "{\"metadata\": {}, \"weight_map\": {" + map + "}}");
}

struct Logs {
  std::vector<std::pair<LogLevel, std::string>> lines;
  Logger logger() {
    return Logger([this](LogLevel level, std::string_view m) { lines.emplace_back(level, std::string(m)); });
  }
  std::vector<std::string> at(LogLevel level) const {
    std::vector<std::string> out;
    for (const auto& [l, m] : lines)
      if (l == level) out.push_back(m);
    return out;
  }
};

std::string filename(const std::string& path) { return fs::path(path).filename().string(); }
std::string parent_name(const std::string& path) { return fs::path(path).parent_path().filename().string(); }

// --- single files ---

TEST(ModelPath, SingleSafetensorsFile) {
  TempDir dir;
  std::string path = dir.file("model.safetensors");
  write_st(path, {"a", "b"});
  auto t = open_model_path(path);
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  ASSERT_EQ(t->files().size(), 1u);
  EXPECT_EQ(t->files()[0].path, path);
  EXPECT_EQ(t->files()[0].format, FileFormat::kSafetensors);
  EXPECT_TRUE(t->files()[0].component.empty());
  ASSERT_EQ(t->tensors().size(), 2u);
  for (const auto& x : t->tensors()) {
    EXPECT_TRUE(x.component.empty());
    EXPECT_EQ(x.qualified_name(), x.name);
  }
}

TEST(ModelPath, SingleGgufFile) {
  TempDir dir;
  std::string path = dir.file("model.gguf");
  write_gguf(path, {"tok_embd.weight"});
  auto t = open_model_path(path);
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_EQ(t->files()[0].format, FileFormat::kGguf);
  EXPECT_EQ(t->tensors()[0].name, "tok_embd.weight");
}

TEST(ModelPath, FormatDetectedFromContentNotExtension) {
  TempDir dir;
  std::string st = dir.file("weights.bin");
  write_st(st, {"x"});
  auto a = open_model_path(st);
  ASSERT_TRUE(a.ok()) << a.error().to_string();
  EXPECT_EQ(a->files()[0].format, FileFormat::kSafetensors);
  std::string gg = dir.file("weights.dat");
  write_gguf(gg, {"y"});
  auto b = open_model_path(gg);
  ASSERT_TRUE(b.ok()) << b.error().to_string();
  EXPECT_EQ(b->files()[0].format, FileFormat::kGguf);
}

TEST(ModelPath, UnrecognisedFile) {
  TempDir dir;
  std::string path = dir.file("notes.txt");
  write_text(path, "hello, this is not a model");
  auto t = open_model_path(path);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().file, path);
  EXPECT_EQ(t.error().offset, std::optional<uint64_t>(0));
  EXPECT_NE(t.error().message.find("unrecognised format"), std::string::npos) << t.error().message;
}

TEST(ModelPath, MissingPath) {
  TempDir dir;
  std::string path = dir.file("nope.safetensors");
  auto t = open_model_path(path);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().file, path);
  EXPECT_NE(t.error().message.find("cannot open"), std::string::npos) << t.error().message;
}

// --- diffusers-style folders ---

// transformer/ (sharded index), text_encoder/ and text_encoder_2/ (single
// files with the same tensor names), vae/, tokenizer/ and scheduler/ without
// weights, model_index.json at the top.
std::string make_diffusers(const TempDir& dir) {
  std::string root = dir.file("pipeline");
  fs::create_directories(root);
  write_text(root + "/model_index.json", R"({"_class_name": "FluxPipeline"})");
  write_sharded(root + "/transformer", "diffusion_pytorch_model.safetensors.index.json", "diffusion_pytorch_model",
                {"blocks.0.attn.weight", "blocks.0.mlp.weight", "blocks.1.attn.weight", "blocks.1.mlp.weight",
                 "proj_out.weight"},
                3, DType::BF16);
  write_text(root + "/transformer/config.json", "{}");
  write_st(root + "/text_encoder/model.safetensors", {"embed.weight", "final_norm.weight"});
  write_text(root + "/text_encoder/config.json", "{}");
  write_st(root + "/text_encoder_2/model.safetensors", {"embed.weight", "encoder.block.0.weight"}, DType::F16);
  write_st(root + "/vae/diffusion_pytorch_model.safetensors", {"decoder.conv_in.weight"});
  fs::create_directories(root + "/tokenizer");
  write_text(root + "/tokenizer/vocab.json", R"({"a": 0})");
  write_text(root + "/tokenizer/merges.txt", "a b\n");
  fs::create_directories(root + "/scheduler");
  write_text(root + "/scheduler/scheduler_config.json", "{}");
  return root;
}

TEST(ModelPathFolder, DiffusersSubfoldersBecomeComponents) {
  TempDir dir;
  std::string root = make_diffusers(dir);
  auto t = open_model_path(root);
  ASSERT_TRUE(t.ok()) << t.error().to_string();

  // transformer: 3 shards; the others one file each; tokenizer/scheduler none.
  std::map<std::string, size_t> files_per_component;
  for (const auto& f : t->files()) {
    EXPECT_FALSE(f.component.empty()) << f.path;
    EXPECT_EQ(f.component, parent_name(f.path)) << "component is the subfolder holding the file";
    ++files_per_component[f.component];
  }
  EXPECT_EQ(files_per_component, (std::map<std::string, size_t>{
                                     {"text_encoder", 1}, {"text_encoder_2", 1}, {"transformer", 3}, {"vae", 1}}));

  std::multiset<std::string> qualified;
  for (const auto& x : t->tensors()) {
    ASSERT_LT(x.file, t->files().size());
    EXPECT_EQ(x.component, t->files()[x.file].component) << x.name;
    EXPECT_EQ(x.qualified_name(), x.component + "." + x.name);
    qualified.insert(x.qualified_name());
  }
  EXPECT_EQ(qualified, (std::multiset<std::string>{
                           "text_encoder.embed.weight", "text_encoder.final_norm.weight",
                           "text_encoder_2.embed.weight", "text_encoder_2.encoder.block.0.weight",
                           "transformer.blocks.0.attn.weight", "transformer.blocks.0.mlp.weight",
                           "transformer.blocks.1.attn.weight", "transformer.blocks.1.mlp.weight",
                           "transformer.proj_out.weight", "vae.decoder.conv_in.weight"}));
}

TEST(ModelPathFolder, FindByQualifiedNameAfterOpenModel) {
  TempDir dir;
  std::string root = make_diffusers(dir);
  auto t = open_model({root});
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  const TensorInfo* te = t->find("text_encoder.embed.weight");
  const TensorInfo* te2 = t->find("text_encoder_2.embed.weight");
  ASSERT_NE(te, nullptr);
  ASSERT_NE(te2, nullptr);
  EXPECT_NE(te, te2);
  EXPECT_EQ(te->dtype, DType::F32);
  EXPECT_EQ(te2->dtype, DType::F16);
  EXPECT_EQ(t->files()[te->file].path, root + "/text_encoder/model.safetensors");
  EXPECT_EQ(t->files()[te2->file].path, root + "/text_encoder_2/model.safetensors");
  const TensorInfo* p = t->find("transformer.proj_out.weight");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->dtype, DType::BF16);
  EXPECT_EQ(parent_name(t->files()[p->file].path), "transformer");
  EXPECT_EQ(filename(t->files()[p->file].path), "diffusion_pytorch_model-00002-of-00003.safetensors");
  // Bare names are not qualified names.
  EXPECT_EQ(t->find("embed.weight"), nullptr);
  EXPECT_EQ(t->find("proj_out.weight"), nullptr);
  EXPECT_EQ(t->find("tokenizer.vocab"), nullptr);
}

TEST(ModelPathFolder, ComponentFolderWithAGgufFile) {
  TempDir dir;
  std::string root = dir.file("mixed");
  write_gguf(root + "/unet/unet.gguf", {"input.weight"});
  write_st(root + "/vae/vae.safetensors", {"conv.weight"});
  auto t = open_model({root});
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  ASSERT_NE(t->find("unet.input.weight"), nullptr);
  EXPECT_EQ(t->files()[t->find("unet.input.weight")->file].format, FileFormat::kGguf);
  ASSERT_NE(t->find("vae.conv.weight"), nullptr);
}

TEST(ModelPathFolder, ErrorInAComponentNamesItsFile) {
  TempDir dir;
  std::string root = dir.file("broken");
  write_st(root + "/text_encoder/model.safetensors", {"a"});
  fs::create_directories(root + "/vae");
  write_text(root + "/vae/diffusion_pytorch_model.safetensors", "garbage!garbage!garbage!");
  auto t = open_model_path(root);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().file, root + "/vae/diffusion_pytorch_model.safetensors") << t.error().to_string();
}

// --- variants ---

void write_variants(const std::string& dir) {
  write_st(dir + "/model.safetensors", {"w"}, DType::F32);
  write_st(dir + "/model.fp16.safetensors", {"w"}, DType::F16);
}

TEST(ModelPathVariant, DefaultWithoutVariant) {
  TempDir dir;
  write_variants(dir.path());
  Logs logs;
  OpenOptions o;
  o.log = logs.logger();
  auto t = open_model_path(dir.path(), o);
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  ASSERT_EQ(t->files().size(), 1u);
  EXPECT_EQ(filename(t->files()[0].path), "model.safetensors");
  EXPECT_EQ(t->tensors()[0].dtype, DType::F32);
  EXPECT_TRUE(t->files()[0].component.empty()) << "a folder holding one model has no component";
  EXPECT_TRUE(logs.at(LogLevel::kWarn).empty());
}

TEST(ModelPathVariant, VariantPicked) {
  TempDir dir;
  write_variants(dir.path());
  Logs logs;
  OpenOptions o;
  o.log = logs.logger();
  o.variant = "fp16";
  auto t = open_model_path(dir.path(), o);
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  ASSERT_EQ(t->files().size(), 1u);
  EXPECT_EQ(filename(t->files()[0].path), "model.fp16.safetensors");
  EXPECT_EQ(t->tensors()[0].dtype, DType::F16);
  EXPECT_TRUE(logs.at(LogLevel::kWarn).empty());
}

TEST(ModelPathVariant, MissingVariantFallsBackWithWarning) {
  TempDir dir;
  write_variants(dir.path());
  Logs logs;
  OpenOptions o;
  o.log = logs.logger();
  o.variant = "bf16";
  auto t = open_model_path(dir.path(), o);
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_EQ(filename(t->files()[0].path), "model.safetensors");
  EXPECT_EQ(t->tensors()[0].dtype, DType::F32);
  auto warns = logs.at(LogLevel::kWarn);
  ASSERT_EQ(warns.size(), 1u);
  EXPECT_NE(warns[0].find("bf16"), std::string::npos) << warns[0];
  EXPECT_NE(warns[0].find(dir.path()), std::string::npos) << warns[0];
}

TEST(ModelPathVariant, MissingVariantWithoutLoggerStillOpens) {
  TempDir dir;
  write_variants(dir.path());
  OpenOptions o;
  o.variant = "int8";
  auto t = open_model_path(dir.path(), o);
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_EQ(filename(t->files()[0].path), "model.safetensors");
}

TEST(ModelPathVariant, PerComponentInDiffusersFolder) {
  TempDir dir;
  std::string root = dir.file("pipe");
  write_st(root + "/vae/diffusion_pytorch_model.safetensors", {"conv"}, DType::F32);
  write_st(root + "/vae/diffusion_pytorch_model.fp16.safetensors", {"conv"}, DType::F16);
  write_st(root + "/text_encoder/model.safetensors", {"embed"}, DType::F32);  // no fp16 here
  // Sharded, with an fp16 index and fp16 shards beside the default ones.
  write_sharded(root + "/transformer", "diffusion_pytorch_model.safetensors.index.json", "diffusion_pytorch_model",
                {"a", "b", "c"}, 2, DType::F32);
  write_sharded(root + "/transformer", "diffusion_pytorch_model.safetensors.index.fp16.json",
                "diffusion_pytorch_model.fp16", {"a", "b", "c"}, 3, DType::F16);

  {
    Logs logs;
    OpenOptions o;
    o.log = logs.logger();
    o.variant = "fp16";
    auto t = open_model({root}, o);
    ASSERT_TRUE(t.ok()) << t.error().to_string();
    EXPECT_EQ(t->find("vae.conv")->dtype, DType::F16);
    EXPECT_EQ(t->find("text_encoder.embed")->dtype, DType::F32);
    for (const char* n : {"transformer.a", "transformer.b", "transformer.c"}) {
      ASSERT_NE(t->find(n), nullptr) << n;
      EXPECT_EQ(t->find(n)->dtype, DType::F16) << n;
      EXPECT_NE(filename(t->files()[t->find(n)->file].path).find(".fp16-"), std::string::npos);
    }
    size_t transformer_files = 0;
    for (const auto& f : t->files()) transformer_files += f.component == "transformer";
    EXPECT_EQ(transformer_files, 3u);
    auto warns = logs.at(LogLevel::kWarn);
    ASSERT_EQ(warns.size(), 1u) << "only text_encoder lacks the variant";
    EXPECT_NE(warns[0].find("text_encoder"), std::string::npos) << warns[0];
    EXPECT_NE(warns[0].find("fp16"), std::string::npos) << warns[0];
  }
  {
    auto t = open_model({root});
    ASSERT_TRUE(t.ok()) << t.error().to_string();
    EXPECT_EQ(t->find("vae.conv")->dtype, DType::F32);
    EXPECT_EQ(t->find("transformer.a")->dtype, DType::F32);
    size_t transformer_files = 0;
    for (const auto& f : t->files()) transformer_files += f.component == "transformer";
    EXPECT_EQ(transformer_files, 2u);
  }
}

TEST(ModelPathVariant, SingleFileVariantBesideShardedDefault) {
  // text_encoder_2 style: the full-precision model is sharded with an index,
  // the fp16 variant fits in one file.
  TempDir dir;
  write_sharded(dir.path(), "model.safetensors.index.json", "model", {"a", "b"}, 2, DType::F32);
  write_st(dir.file("model.fp16.safetensors"), {"a", "b"}, DType::F16);
  {
    Logs logs;
    OpenOptions o;
    o.log = logs.logger();
    o.variant = "fp16";
    auto t = open_model({dir.path()}, o);
    ASSERT_TRUE(t.ok()) << t.error().to_string();
    ASSERT_EQ(t->files().size(), 1u);
    EXPECT_EQ(filename(t->files()[0].path), "model.fp16.safetensors");
    EXPECT_EQ(t->find("a")->dtype, DType::F16);
    EXPECT_TRUE(logs.at(LogLevel::kWarn).empty()) << logs.at(LogLevel::kWarn).front();
  }
  {
    auto t = open_model({dir.path()});
    ASSERT_TRUE(t.ok()) << t.error().to_string();
    EXPECT_EQ(t->files().size(), 2u) << "the default is the sharded model";
    EXPECT_EQ(t->find("a")->dtype, DType::F32);
  }
  {
    Logs logs;
    OpenOptions o;
    o.log = logs.logger();
    o.variant = "bf16";
    auto t = open_model({dir.path()}, o);
    ASSERT_TRUE(t.ok()) << t.error().to_string();
    EXPECT_EQ(t->files().size(), 2u);
    EXPECT_EQ(logs.at(LogLevel::kWarn).size(), 1u);
  }
}

TEST(ModelPathVariant, OnlyAVariantPresentAndNoneAsked) {
  // The lone file is unambiguous: opened, whatever its name.
  TempDir dir;
  write_st(dir.file("model.fp16.safetensors"), {"w"}, DType::F16);
  auto t = open_model_path(dir.path());
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_EQ(filename(t->files()[0].path), "model.fp16.safetensors");
}

TEST(ModelPathVariant, TwoVariantsButNoDefaultNeedAChoice) {
  TempDir dir;
  write_st(dir.file("model.fp16.safetensors"), {"w"}, DType::F16);
  write_st(dir.file("model.bf16.safetensors"), {"w"}, DType::BF16);
  auto t = open_model_path(dir.path());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().file, dir.path());
  EXPECT_NE(t.error().message.find("model.fp16.safetensors"), std::string::npos) << t.error().message;
  EXPECT_NE(t.error().message.find("model.bf16.safetensors"), std::string::npos) << t.error().message;
  OpenOptions o;
  o.variant = "bf16";
  auto b = open_model_path(dir.path(), o);
  ASSERT_TRUE(b.ok()) << b.error().to_string();
  EXPECT_EQ(b->tensors()[0].dtype, DType::BF16);
}

// --- a folder holding one model directly ---

TEST(ModelPathFolder, FolderHoldingOneModelDirectly) {
  TempDir dir;
  write_st(dir.file("model.safetensors"), {"layer.weight"});
  write_text(dir.file("config.json"), "{}");
  write_text(dir.file("tokenizer.json"), "{}");
  fs::create_directories(dir.file("unrelated_sub"));
  write_st(dir.file("unrelated_sub/other.safetensors"), {"ignored"});
  auto t = open_model_path(dir.path());
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  ASSERT_EQ(t->files().size(), 1u) << "weights directly in the folder win over subfolders";
  EXPECT_EQ(t->files()[0].path, dir.file("model.safetensors"));
  EXPECT_TRUE(t->files()[0].component.empty());
  ASSERT_EQ(t->tensors().size(), 1u);
  EXPECT_EQ(t->tensors()[0].qualified_name(), "layer.weight");
}

TEST(ModelPathFolder, SingleFileWithDotsInItsName) {
  // Common checkpoint names: the dots are part of the name, not a variant.
  for (std::string name : {"sd_xl_base_1.0.safetensors", "sd3.5_large.safetensors", "flux1-dev.Q4_K.gguf"}) {
    SCOPED_TRACE(name);
    TempDir dir;
    if (name.ends_with(".gguf")) write_gguf(dir.file(name), {"w"});
    else write_st(dir.file(name), {"w"});
    auto t = open_model_path(dir.path());
    ASSERT_TRUE(t.ok()) << t.error().to_string();
    EXPECT_EQ(t->files()[0].path, dir.file(name));
  }
}

TEST(ModelPathFolder, FolderHoldingOneGguf) {
  TempDir dir;
  write_gguf(dir.file("model.gguf"), {"output.weight"});
  auto t = open_model_path(dir.path());
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_EQ(t->files()[0].format, FileFormat::kGguf);
}

TEST(ModelPathFolder, FolderWithAShardedIndexIgnoresTheShardsAsCandidates) {
  TempDir dir;
  write_sharded(dir.path(), "model.safetensors.index.json", "model", {"a", "b", "c", "d"}, 2);
  auto t = open_model({dir.path()});
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_EQ(t->files().size(), 2u);
  EXPECT_EQ(t->tensors().size(), 4u);
  ASSERT_NE(t->find("d"), nullptr);
  EXPECT_TRUE(t->find("d")->component.empty());
}

TEST(ModelPathFolder, TwoCandidateFilesIsAnErrorListingThem) {
  TempDir dir;
  write_st(dir.file("first.safetensors"), {"a"});
  write_st(dir.file("second.safetensors"), {"b"});
  auto t = open_model_path(dir.path());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().file, dir.path());
  EXPECT_TRUE(t.error().tensor.empty());
  EXPECT_NE(t.error().message.find("first.safetensors"), std::string::npos) << t.error().message;
  EXPECT_NE(t.error().message.find("second.safetensors"), std::string::npos) << t.error().message;
  EXPECT_NE(t.error().message.find("several candidate"), std::string::npos) << t.error().message;
}

TEST(ModelPathFolder, ShardsWithoutIndexAreAmbiguous) {
  TempDir dir;
  write_st(dir.file("model-00001-of-00002.safetensors"), {"a"});
  write_st(dir.file("model-00002-of-00002.safetensors"), {"b"});
  auto t = open_model_path(dir.path());
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("model-00001-of-00002.safetensors"), std::string::npos) << t.error().message;
  EXPECT_NE(t.error().message.find("model-00002-of-00002.safetensors"), std::string::npos) << t.error().message;
}

TEST(ModelPathFolder, AmbiguousComponentFolderIsAnErrorNamingIt) {
  TempDir dir;
  write_st(dir.file("vae/a.safetensors"), {"a"});
  write_st(dir.file("vae/b.safetensors"), {"b"});
  auto t = open_model_path(dir.path());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().file, dir.file("vae"));
  EXPECT_NE(t.error().message.find("a.safetensors"), std::string::npos) << t.error().message;
}

TEST(ModelPathFolder, EmptyFolder) {
  TempDir dir;
  auto t = open_model_path(dir.path());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().file, dir.path());
  EXPECT_NE(t.error().message.find("holds no model"), std::string::npos) << t.error().message;
}

TEST(ModelPathFolder, FolderWithOnlyNonWeightSubfolders) {
  TempDir dir;
  fs::create_directories(dir.file("tokenizer"));
  write_text(dir.file("tokenizer/vocab.json"), "{}");
  fs::create_directories(dir.file("scheduler"));
  write_text(dir.file("model_index.json"), "{}");
  write_text(dir.file("README.md"), "# readme");
  auto t = open_model_path(dir.path());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().file, dir.path());
  EXPECT_NE(t.error().message.find("holds no model"), std::string::npos) << t.error().message;
}

TEST(ModelPathFolder, DanglingSymlinksAreIgnored) {
  TempDir dir;
  write_st(dir.file("model.safetensors"), {"w"});
  // Interrupted downloads leave links to blobs that are not there (yet).
  std::error_code ec;
  for (int k = 0; k < 24 && !ec; ++k)
    fs::create_symlink(dir.file(fmt::format("missing_blob_{}", k)), dir.file(fmt::format("link_{}.json", k)), ec);
  if (ec) GTEST_SKIP() << "cannot make symbolic links here (Windows needs developer mode; wine has none): " << ec.message();
  auto t = open_model_path(dir.path());
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_EQ(t->files()[0].path, dir.file("model.safetensors"));
}

TEST(ModelPathFolder, SymlinkedWeightsAreFollowed) {
  // Hugging Face cache snapshots hold links to blobs.
  TempDir dir;
  write_st(dir.file("blobs/abc123"), {"w"});
  fs::create_directories(dir.file("snapshot"));
  std::error_code ec;
  fs::create_symlink(dir.file("blobs/abc123"), dir.file("snapshot/model.safetensors"), ec);
  if (ec) GTEST_SKIP() << "cannot make symbolic links here (Windows needs developer mode; wine has none): " << ec.message();
  auto t = open_model_path(dir.file("snapshot"));
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_EQ(t->tensors()[0].name, "w");
}

// --- several paths ---

TEST(ModelPathOpenModel, ClashingQualifiedNamesNameBothFiles) {
  TempDir dir;
  std::string a = dir.file("a.safetensors"), b = dir.file("b.safetensors");
  write_st(a, {"shared.weight", "only_a"});
  write_st(b, {"only_b", "shared.weight"});
  auto t = open_model({a, b});
  ASSERT_FALSE(t.ok());
  const Error& e = t.error();
  EXPECT_EQ(e.tensor, "shared.weight");
  EXPECT_EQ(e.file, b);
  EXPECT_NE(e.message.find("duplicate"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find(a), std::string::npos) << e.message;
  // The offsets of both copies are reported.
  auto fb = open_model_path(b);
  ASSERT_TRUE(fb.ok());
  EXPECT_EQ(e.offset, std::optional<uint64_t>(fb->tensors()[1].offset));
  auto fa = open_model_path(a);
  ASSERT_TRUE(fa.ok());
  EXPECT_NE(e.message.find(fmt::format("byte {}", fa->tensors()[0].offset)), std::string::npos) << e.message;
}

TEST(ModelPathOpenModel, ComponentsKeepEqualNamesApart) {
  TempDir dir;
  std::string root = dir.file("pipe");
  write_st(root + "/vae/model.safetensors", {"w"});
  std::string loose = dir.file("loose.safetensors");
  write_st(loose, {"w", "vae.x"});
  auto t = open_model({root, loose});
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  ASSERT_NE(t->find("vae.w"), nullptr);
  ASSERT_NE(t->find("w"), nullptr);
  EXPECT_EQ(t->files()[t->find("w")->file].path, loose);
  EXPECT_EQ(t->files()[t->find("vae.w")->file].component, "vae");
  EXPECT_EQ(t->files().size(), 2u);
  EXPECT_EQ(t->find("vae.w")->file, 0u);
  EXPECT_EQ(t->find("w")->file, 1u);
}

TEST(ModelPathOpenModel, QualifiedNameClashAcrossComponentAndLooseFile) {
  // "vae.w" as a bare name in a loose file clashes with component vae's "w".
  TempDir dir;
  std::string root = dir.file("pipe");
  write_st(root + "/vae/model.safetensors", {"w"});
  std::string loose = dir.file("loose.safetensors");
  write_st(loose, {"vae.w"});
  auto t = open_model({root, loose});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().file, loose);
  EXPECT_EQ(t.error().tensor, "vae.w");
  EXPECT_NE(t.error().message.find(root + "/vae/model.safetensors"), std::string::npos) << t.error().message;
}

TEST(ModelPathOpenModel, SamePathTwiceIsADuplicate) {
  TempDir dir;
  std::string a = dir.file("a.safetensors");
  write_st(a, {"w"});
  auto t = open_model({a, a});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().tensor, "w");
}

TEST(ModelPathOpenModel, FirstFailingPathIsReported) {
  TempDir dir;
  std::string a = dir.file("a.safetensors");
  write_st(a, {"w"});
  std::string missing = dir.file("missing.gguf");
  auto t = open_model({a, missing});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().file, missing);
}

TEST(ModelPathOpenModel, FileIndicesRebasedAcrossPaths) {
  TempDir dir;
  write_sharded(dir.file("llm"), "model.safetensors.index.json", "model", {"a", "b", "c"}, 3);
  std::string g = dir.file("extra.gguf");
  write_gguf(g, {"z"});
  auto t = open_model({dir.file("llm/model.safetensors.index.json"), g});
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  ASSERT_EQ(t->files().size(), 4u);
  EXPECT_EQ(t->find("z")->file, 3u);
  EXPECT_EQ(t->files()[3].path, g);
  for (const char* n : {"a", "b", "c"}) {
    const TensorInfo* x = t->find(n);
    ASSERT_NE(x, nullptr);
    EXPECT_LT(x->file, 3u);
    EXPECT_EQ(parent_name(t->files()[x->file].path), "llm");
  }
}

}  // namespace
}  // namespace wm

namespace wm {
namespace {

// A diffusers repository often ships single-file checkpoints at its root
// beside the component folders; model_index.json says it is a pipeline.
TEST(ModelPathPipeline, ModelIndexJsonPrefersComponentsOverRootCheckpoints) {
  test::TempDir dir;
  auto write_one = [](const std::string& path, const std::string& name) {
    SafetensorsWriter w;
    w.add_tensor(name, DType::F32, {2}, TensorData::bytes(std::vector<std::byte>(8)));
    ASSERT_TRUE(w.write(path).ok());
  };
  write_one(dir.file("sd_xl_base_1.0.safetensors"), "root.a");
  write_one(dir.file("sd_xl_base_1.0_0.9vae.safetensors"), "root.b");
  std::filesystem::create_directories(dir.file("unet"));
  std::filesystem::create_directories(dir.file("vae"));
  write_one(dir.file("unet/diffusion_pytorch_model.safetensors"), "conv.weight");
  write_one(dir.file("vae/diffusion_pytorch_model.safetensors"), "decoder.weight");

  // Without model_index.json the two root files are ambiguous.
  EXPECT_FALSE(open_model_path(dir.path()).ok());

  test::write_text(dir.file("model_index.json"), R"({"_class_name": "StableDiffusionXLPipeline"})");
  auto table = open_model({dir.path()});
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  ASSERT_EQ(table->tensors().size(), 2u);
  EXPECT_NE(table->find("unet.conv.weight"), nullptr);
  EXPECT_NE(table->find("vae.decoder.weight"), nullptr);
}

}  // namespace
}  // namespace wm
