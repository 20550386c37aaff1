// A tokenizer vocabulary in GGUF metadata (tokens, scores, types, merges) of
// a real model's size, so benchmark models parse like real ones do.
#pragma once

#include <fmt/format.h>
#include <vector>

#include "format/gguf_writer.h"

namespace wm::bench {

inline void add_vocab(GgufWriter& w, int vocab, int merges) {
  std::vector<MetaValue> tokens, scores, types, merge_list;
  for (int k = 0; k < vocab; ++k) {
    tokens.push_back(MetaValue::str(fmt::format("tok_{}", k)));
    scores.push_back(MetaValue::f(MetaType::F32, -k * 0.01));
    types.push_back(MetaValue::i(MetaType::I32, 1));
    if (k < merges) merge_list.push_back(MetaValue::str(fmt::format("t{} o{}", k % 977, k)));
  }
  w.add_metadata("tokenizer.ggml.tokens", MetaValue::array(MetaType::STRING, std::move(tokens)));
  w.add_metadata("tokenizer.ggml.scores", MetaValue::array(MetaType::F32, std::move(scores)));
  w.add_metadata("tokenizer.ggml.token_type", MetaValue::array(MetaType::I32, std::move(types)));
  w.add_metadata("tokenizer.ggml.merges", MetaValue::array(MetaType::STRING, std::move(merge_list)));
}

}  // namespace wm::bench
