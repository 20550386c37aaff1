#include "format/torch_state_dict.h"

#include <fmt/format.h>
#include <unordered_map>

#include "common/error.h"

namespace wm {
namespace {

constexpr const char* kWrapperKeys[] = {"state_dict", "model", "module"};

// The value under a str key of a dict, or nullptr.
const PyId* dict_get(const PickleArena& a, PyId dict, std::string_view key) {
  const PyObject& d = a[dict];
  for (size_t i = 0; i + 1 < d.items.size(); i += 2)
    if (a[d.items[i]].kind == PyKind::kStr && a[d.items[i]].s == key) return &d.items[i + 1];
  return nullptr;
}

class Collector {
 public:
  Collector(const PickleArena& a, const std::string& file, const Logger& log) : a_(a), file_(file), log_(log) {}

  std::vector<NamedTensor> run(PyId root) {
    if (a_[root].kind != PyKind::kDict)
      fail(fmt::format("the checkpoint holds a {}, not a dict of tensors", py_kind_name(a_[root].kind)));
    root = unwrap(root);
    walk(root, "", 0);
    if (skipped_)
      log_.debug(fmt::format("'{}': {} values that are not tensors skipped", file_, skipped_));
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(std::string msg) const { throw ParseFailure{Error{file_, {}, {}, std::move(msg)}}; }

  // {"state_dict": {...}, "epoch": 3, ...} -> the inner dict (repeatedly, a
  // few levels, as Lightning and training scripts nest them).
  PyId unwrap(PyId dict) {
    for (int level = 0; level < 4; ++level) {
      const PyId* inner = nullptr;
      const char* used = nullptr;
      for (const char* key : kWrapperKeys) {
        inner = dict_get(a_, dict, key);
        if (inner && a_[*inner].kind == PyKind::kDict) {
          used = key;
          break;
        }
        inner = nullptr;
      }
      if (!inner) return dict;
      size_t others = a_[dict].items.size() / 2 - 1;
      log_.info(fmt::format("'{}': using the tensors under '{}' ({} other top-level entries ignored)", file_, used,
                            others));
      dict = *inner;
    }
    return dict;
  }

  std::string key_text(PyId key) const {
    const PyObject& k = a_[key];
    if (k.kind == PyKind::kStr) return k.s;
    if (k.kind == PyKind::kInt) return std::to_string(k.i);
    if (k.kind == PyKind::kGlobal || k.kind == PyKind::kOpaque) return k.s;
    fail(fmt::format("a dict key is a {}; only str and int keys can name tensors", py_kind_name(k.kind)));
  }

  void visit(PyId value, const std::string& name, int depth) {
    const PyObject& v = a_[value];
    switch (v.kind) {
      case PyKind::kTensor: out_.push_back({name, value}); return;
      case PyKind::kDict:
      case PyKind::kList:
      case PyKind::kTuple: walk(value, name, depth + 1); return;
      default: ++skipped_; return;
    }
  }

  void walk(PyId container, const std::string& prefix, int depth) {
    if (depth > kStateDictMaxDepth)
      fail(fmt::format("containers nest deeper than {} levels (at '{}')", kStateDictMaxDepth, prefix));
    // A container reached twice (memo references can share or even cycle)
    // has been listed under its first name already.
    auto [it, first] = seen_.emplace(container, prefix);
    if (!first) {
      log_.debug(fmt::format("'{}': '{}' repeats the container already listed as '{}'", file_, prefix, it->second));
      return;
    }
    auto join = [&](const std::string& part) { return prefix.empty() ? part : prefix + "." + part; };
    const PyObject& c = a_[container];
    if (c.kind == PyKind::kDict) {
      for (size_t i = 0; i + 1 < c.items.size(); i += 2) visit(c.items[i + 1], join(key_text(c.items[i])), depth);
    } else {
      for (size_t i = 0; i < c.items.size(); ++i) visit(c.items[i], join(std::to_string(i)), depth);
    }
  }

  const PickleArena& a_;
  const std::string& file_;
  const Logger& log_;
  std::vector<NamedTensor> out_;
  std::unordered_map<PyId, std::string> seen_;
  uint64_t skipped_ = 0;
};

}  // namespace

std::vector<NamedTensor> collect_state_dict(const PickleArena& arena, PyId root, const std::string& file,
                                            const Logger& log) {
  return Collector(arena, file, log).run(root);
}

}  // namespace wm
