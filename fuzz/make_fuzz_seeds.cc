// Writes a few small valid files into the folders given, one per fuzz
// target: make_fuzz_seeds GGUF_DIR SAFETENSORS_DIR INDEX_DIR
#include <cstdio>
#include <string>

#include "format/gguf_writer.h"
#include "format/safetensors_writer.h"

namespace {

wm::TensorData zeros(size_t n) { return wm::TensorData::bytes(std::vector<std::byte>(n)); }

bool write_ggufs(const std::string& dir) {
  using wm::MetaType;
  using wm::MetaValue;
  wm::GgufWriter small(3, 32);
  small.add_metadata("general.architecture", MetaValue::str("llama"));
  small.add_metadata("a.u8", MetaValue::u(MetaType::U8, 7));
  small.add_metadata("a.i64", MetaValue::i(MetaType::I64, -3));
  small.add_metadata("a.f32", MetaValue::f(MetaType::F32, 0.5));
  small.add_metadata("a.bool", MetaValue::u(MetaType::BOOL, 1));
  small.add_metadata("a.arr", MetaValue::array(MetaType::ARRAY, {MetaValue::array(MetaType::I32, {MetaValue::i(MetaType::I32, 1)})}));
  small.add_metadata("a.strs", MetaValue::array(MetaType::STRING, {MetaValue::str("x"), MetaValue::str("yz")}));
  small.add_tensor("w", wm::DType::F16, {2, 4}, zeros(16));
  small.add_tensor("q", wm::DType::Q8_0, {1, 32}, zeros(34));
  small.add_tensor("k", wm::DType::Q4_K, {1, 256}, zeros(144));
  wm::GgufWriter aligned(2, 64);
  aligned.add_tensor("b", wm::DType::F32, {3}, zeros(12));
  aligned.add_tensor("c", wm::DType::I8, {5}, zeros(5));
  // Shapes the attack found: invalid UTF-8 in names and strings, an empty
  // tensor with a huge other dimension.
  wm::GgufWriter odd;
  odd.add_metadata("general.name", MetaValue::str("bad \xFF\xFE"));
  odd.add_metadata("key\xC3", MetaValue::str("v"));
  odd.add_tensor("blk.\xFF.weight", wm::DType::F32, {2}, zeros(8));
  odd.add_tensor("empty", wm::DType::F32, {0, 1ull << 40}, zeros(0));
  return small.write(dir + "/small.gguf").ok() && aligned.write(dir + "/aligned.gguf").ok() &&
         odd.write(dir + "/odd.gguf").ok();
}

bool write_text(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  return std::fclose(f) == 0 && ok;
}

// A safetensors file from a raw header (for shapes the writer cannot make).
bool write_raw_safetensors(const std::string& path, const std::string& header, size_t data_bytes) {
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  for (int k = 0; k < 8; ++k) bytes[k] = static_cast<char>((n >> (8 * k)) & 0xFF);
  return write_text(path, bytes + header + std::string(data_bytes, '\0'));
}

bool write_safetensors(const std::string& dir) {
  wm::SafetensorsWriter w;
  w.add_metadata("format", "pt");
  w.add_tensor("a", wm::DType::BF16, {2, 2}, zeros(8));
  w.add_tensor("b", wm::DType::F4, {4}, zeros(2));
  w.add_tensor("c", wm::DType::I64, {}, zeros(8));
  w.add_tensor("d", wm::DType::F32, {0, 3}, zeros(0));
  w.add_tensor("e", wm::DType::F32, {5, 0, 1ull << 30}, zeros(0));
  return w.write(dir + "/small.safetensors").ok() &&
         write_raw_safetensors(dir + "/dup_field.safetensors",
                               R"({"t":{"dtype":"F32","dtype":"I32","shape":[2],"data_offsets":[0,8]}})", 8) &&
         write_raw_safetensors(dir + "/dup_meta.safetensors",
                               R"({"__metadata__":{"a":"1","a":"2"},"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                               8) &&
         write_raw_safetensors(dir + "/utf8.safetensors", "{\"t\xFF\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
}

bool write_index(const std::string& dir) {
  std::string json = R"({"metadata":{"total_size":24},"weight_map":{"a":"model-00001-of-00002.safetensors",)"
                     R"("b":"model-00002-of-00002.safetensors","c":"./model-00001-of-00002.safetensors"}})";
  return write_text(dir + "/model.safetensors.index.json", json) &&
         write_text(dir + "/empty.safetensors.index.json", R"({"weight_map":{}})");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: make_fuzz_seeds GGUF_DIR SAFETENSORS_DIR INDEX_DIR\n");
    return 2;
  }
  bool ok = write_ggufs(argv[1]) && write_safetensors(argv[2]) && write_index(argv[3]);
  if (!ok) std::fprintf(stderr, "make_fuzz_seeds: failed to write seeds\n");
  return ok ? 0 : 1;
}
