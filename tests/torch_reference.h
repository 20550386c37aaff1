// Reads the reference values scripts/make_torch_fixtures.py exports beside
// each checkpoint fixture (X.ref, written through numpy, not torch.save):
// one tensor a line, "name<TAB>dtype<TAB>d0,d1,...<TAB>hex bytes".
#pragma once

#include <fmt/format.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace wm::test {

struct RefTensor {
  std::string name, dtype;
  std::vector<uint64_t> shape;
  std::vector<std::byte> bytes;
};

inline std::string torch_fixture(const std::string& name) {
  // fmt, not operator+ on a literal: GCC 12 warns falsely (-Warray-bounds) on the latter at -O1.
  return fmt::format("{}/tests/data/torch/{}", WM_SOURCE_DIR, name);
}

inline std::vector<RefTensor> read_refs(const std::string& checkpoint) {
  std::vector<RefTensor> out;
  std::ifstream in(checkpoint + ".ref");
  EXPECT_TRUE(in.good()) << "missing " << checkpoint << ".ref";
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string part; std::getline(ss, part, '\t');) f.push_back(part);
    if (f.size() == 3) f.emplace_back();  // empty tensor: no bytes
    EXPECT_EQ(f.size(), 4u) << line;
    if (f.size() != 4) continue;
    RefTensor r{f[0], f[1], {}, {}};
    std::stringstream dims(f[2]);
    for (std::string d; std::getline(dims, d, ',');) r.shape.push_back(std::stoull(d));
    for (size_t i = 0; i + 1 < f[3].size(); i += 2)
      r.bytes.push_back(static_cast<std::byte>(std::stoul(f[3].substr(i, 2), nullptr, 16)));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace wm::test
