#include "format/torch_state_dict.h"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "common/error.h"

namespace wm {
namespace {

// Tried in this order; see the header for when each is unwrapped.
constexpr std::string_view kWrapperKeys[] = {"state_dict", "model", "module"};
// Entries of a training checkpoint that hold training state, not weights
// (Lightning's, and the usual names of hand-written training loops). Their
// tensors (Adam moments, step counters, best scores) would double the
// model's size and mean nothing to an engine.
constexpr std::string_view kTrainingStateKeys[] = {
    "optimizer", "optimizers", "optimizer_states", "optimizer_state_dict", "optim",   "lr_scheduler",
    "lr_schedulers", "scheduler", "scaler",      "grad_scaler",          "callbacks", "loops"};
constexpr int kMaxUnwraps = 4;
// A warning lists at most this many names; the rest go to the debug log.
constexpr size_t kNamesPerWarning = 64;

bool is_training_state(std::string_view key) {
  return std::find(std::begin(kTrainingStateKeys), std::end(kTrainingStateKeys), key) != std::end(kTrainingStateKeys);
}

// The values a container holds (a dict's values, not its keys).
template <class F>
void for_each_child(const PyObject& o, F&& f) {
  if (o.kind == PyKind::kDict) {
    for (size_t i = 1; i < o.items.size(); i += 2) f(o.items[i]);
  } else if (o.kind == PyKind::kList || o.kind == PyKind::kTuple) {
    for (PyId c : o.items) f(c);
  }
}

// Per value, whether a tensor is reachable from it. Computed once, backwards
// from the tensors, so shared and cyclic containers (the memo can make both)
// cost one visit each.
std::vector<bool> reaching_tensors(const PickleArena& a) {
  const size_t n = a.objects.size();
  std::vector<uint32_t> first(n + 1, 0);  // parents of c: parents[first[c] .. first[c + 1])
  for (size_t c = 0; c < n; ++c) for_each_child(a.objects[c], [&](PyId child) { ++first[child + 1]; });
  for (size_t c = 0; c < n; ++c) first[c + 1] += first[c];
  std::vector<PyId> parents(first[n]);
  std::vector<uint32_t> fill(first.begin(), first.end() - 1);
  for (size_t c = 0; c < n; ++c)
    for_each_child(a.objects[c], [&](PyId child) { parents[fill[child]++] = static_cast<PyId>(c); });
  std::vector<bool> reaches(n, false);
  std::vector<PyId> todo;
  for (size_t c = 0; c < n; ++c)
    if (a.objects[c].kind == PyKind::kTensor) {
      reaches[c] = true;
      todo.push_back(static_cast<PyId>(c));
    }
  while (!todo.empty()) {
    PyId c = todo.back();
    todo.pop_back();
    for (uint32_t k = first[c]; k < first[c + 1]; ++k)
      if (!reaches[parents[k]]) {
        reaches[parents[k]] = true;
        todo.push_back(parents[k]);
      }
  }
  return reaches;
}

// Where a value sits: its dotted name, and the exact key path for messages
// (["a.b"] and ["a"]["b"] both flatten to "a.b").
struct Path {
  std::string name;
  std::string where;
  const char* bad_key = nullptr;  // kind of a key on the path that cannot name a tensor
};

std::string list_names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < kNamesPerWarning; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > kNamesPerWarning)
    out += fmt::format(" and {} more (listed at debug level)", names.size() - kNamesPerWarning);
  return out;
}

class Collector {
 public:
  Collector(const PickleArena& a, const std::string& file, const Logger& log)
      : a_(a), file_(file), log_(log), reaches_(reaching_tensors(a)) {}

  std::vector<NamedTensor> run(PyId root) {
    if (a_[root].kind != PyKind::kDict)
      fail({}, {}, fmt::format("the checkpoint holds a {}, not a dict of tensors", py_kind_name(a_[root].kind)));
    level(root, Path{}, 0);
    for (const auto& [value, path] : training_) drop(value, path);
    warn_unreached();
    if (skipped_) log_.debug(fmt::format("'{}': {} values that are not tensors skipped", file_, skipped_));
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(std::string tensor, std::optional<uint64_t> at, std::string msg) const {
    throw ParseFailure{Error{file_, std::move(tensor), at, std::move(msg)}};
  }

  bool holds_tensors(PyId v) const { return reaches_[v]; }

  const std::string* str_key(PyId key) const {
    return a_[key].kind == PyKind::kStr ? &a_[key].s : nullptr;
  }

  Path child(const Path& p, PyId key) const {
    const PyObject& k = a_[key];
    Path c = p;
    std::string part;
    if (k.kind == PyKind::kStr || k.kind == PyKind::kGlobal || k.kind == PyKind::kOpaque) {
      part = k.s;
      c.where += fmt::format("[\"{}\"]", k.s);
    } else if (k.kind == PyKind::kInt) {
      part = std::to_string(k.i);
      c.where += fmt::format("[{}]", k.i);
    } else {
      // Named only if a tensor lies below: a settings dict may have float keys.
      c.bad_key = py_kind_name(k.kind);
      c.where += fmt::format("[<{}>]", c.bad_key);
    }
    c.name = p.name.empty() ? part : p.name + "." + part;
    return c;
  }

  Path child(const Path& p, size_t index) const {
    Path c = p;
    c.name = p.name.empty() ? std::to_string(index) : p.name + "." + std::to_string(index);
    c.where += fmt::format("[{}]", index);
    return c;
  }

  // The wrapper entry of `dict` that can be unwrapped, as the index of its
  // key in items, or nullopt.
  std::optional<size_t> wrapper(PyId dict) const {
    const PyObject& d = a_[dict];
    for (std::string_view want : kWrapperKeys) {
      for (size_t i = 0; i + 1 < d.items.size(); i += 2) {
        const std::string* key = str_key(d.items[i]);
        if (!key || *key != want || a_[d.items[i + 1]].kind != PyKind::kDict) continue;
        if (want == "state_dict" || !weights_beside(dict, i)) return i;
      }
    }
    return std::nullopt;
  }

  // Whether an entry of `dict` other than the one at `skip` holds tensors
  // that are not training state.
  bool weights_beside(PyId dict, size_t skip) const {
    const PyObject& d = a_[dict];
    for (size_t i = 0; i + 1 < d.items.size(); i += 2) {
      if (i == skip) continue;
      const std::string* key = str_key(d.items[i]);
      if (holds_tensors(d.items[i + 1]) && !(key && is_training_state(*key))) return true;
    }
    return false;
  }

  // One dict of the wrapper chain: unwrapped when it has a wrapper that can
  // be, else walked whole.
  void level(PyId dict, const Path& p, int unwraps) {
    std::optional<size_t> w = unwraps < kMaxUnwraps ? wrapper(dict) : std::nullopt;
    if (!w) return walk(dict, p, unwraps);
    seen_.emplace(dict, p.where);  // a reference back to it from below is a repeat
    const PyObject& d = a_[dict];
    Path inner = p;  // the wrapper adds to the path, not to the names
    inner.where += fmt::format("[\"{}\"]", a_[d.items[*w]].s);
    std::vector<std::string> beside;
    size_t training = 0;
    for (size_t i = 0; i + 1 < d.items.size(); i += 2) {
      PyId value = d.items[i + 1];
      if (i == *w) {
        level(value, inner, unwraps + 1);
        continue;
      }
      Path c = child(p, d.items[i]);
      const std::string* key = str_key(d.items[i]);
      if (key && is_training_state(*key) && holds_tensors(value)) {
        training_.emplace_back(value, std::move(c));  // after the weights, see drop()
        ++training;
      } else if (holds_tensors(value)) {
        beside.push_back(c.name);
        visit(value, c, unwraps + 1);
      } else {
        visit(value, c, unwraps + 1);  // counts what is skipped
      }
    }
    log_.info(fmt::format("'{}': using the tensors under {}{}{}", file_, inner.where,
                          beside.empty() ? "" : fmt::format("; beside it, loaded under their own names: {}", list_names(beside)),
                          training ? fmt::format("; training state skipped ({} entr{})", training, training > 1 ? "ies" : "y") : ""));
  }

  void visit(PyId value, const Path& p, int depth) {
    const PyObject& v = a_[value];
    switch (v.kind) {
      case PyKind::kTensor: add(value, p); return;
      case PyKind::kDict:
      case PyKind::kList:
      case PyKind::kTuple: walk(value, p, depth + 1); return;
      default: ++skipped_; return;
    }
  }

  void walk(PyId container, const Path& p, int depth) {
    if (depth > kStateDictMaxDepth)
      fail({}, {}, fmt::format("containers nest deeper than {} levels (at '{}')", kStateDictMaxDepth, p.name));
    // A container reached twice (memo references can share or even cycle)
    // has been listed under its first name already.
    auto [it, first] = seen_.emplace(container, p.where);
    if (!first) {
      if (holds_tensors(container))
        log_.info(fmt::format("'{}': {} is the container already listed as {}: its tensors are loaded once, under "
                              "the first name", file_, p.where, it->second));
      return;
    }
    const PyObject& c = a_[container];
    if (c.kind == PyKind::kDict) {
      for (size_t i = 0; i + 1 < c.items.size(); i += 2) visit(c.items[i + 1], child(p, c.items[i]), depth);
    } else {
      for (size_t i = 0; i < c.items.size(); ++i) visit(c.items[i], child(p, i), depth);
    }
  }

  void add(PyId tensor, const Path& p) {
    const uint64_t at = a_.tensors[a_[tensor].payload].at;
    if (dropping_) {
      if (!loaded_.count(tensor)) dropped_.push_back(p.name);
      reached_.insert(tensor);
      return;
    }
    if (p.bad_key)
      fail(p.name, at, fmt::format("the tensor at {} is under a dict key that is a {}; only str and int keys can "
                                   "name tensors", p.where, p.bad_key));
    auto [it, inserted] = by_name_.emplace(p.name, out_.size());
    if (!inserted) {
      if (out_[it->second].tensor == tensor) return;  // one tensor, reached by two spellings of one name
      fail(p.name, at, fmt::format("two tensors flatten to the name '{}': {} and {}", p.name,
                                   wheres_[it->second], p.where));
    }
    out_.push_back({p.name, tensor});
    wheres_.push_back(p.where);
    loaded_.insert(tensor);
    reached_.insert(tensor);
  }

  // Training state beside a wrapper: walked after every weight, so a tensor
  // it shares with the weights is loaded, and each other one is named.
  void drop(PyId value, const Path& p) {
    dropping_ = true;
    dropped_.clear();
    visit(value, p, 1);
    dropping_ = false;
    if (dropped_.empty()) return;
    log_.warn(fmt::format("'{}': {} is training state, not weights: {} tensor{} not loaded: {}", file_, p.where,
                          dropped_.size(), dropped_.size() > 1 ? "s" : "", list_names(dropped_)));
    for (size_t i = kNamesPerWarning; i < dropped_.size(); ++i)
      log_.debug(fmt::format("'{}': training-state tensor '{}' not loaded", file_, dropped_[i]));
  }

  // Tensors the pickle built that no dict reaches: a key set twice keeps its
  // last value (as in Python), an object's state is not read. They have no
  // name; the pickle offset of each says where they are.
  void warn_unreached() {
    std::vector<uint64_t> offsets;
    for (size_t id = 0; id < a_.objects.size(); ++id)
      if (a_.objects[id].kind == PyKind::kTensor && !reached_.count(static_cast<PyId>(id)))
        offsets.push_back(a_.tensors[a_.objects[id].payload].at);
    if (offsets.empty()) return;
    std::sort(offsets.begin(), offsets.end());
    const size_t shown = std::min(offsets.size(), kNamesPerWarning);
    log_.warn(fmt::format("'{}': {} tensor{} the pickle builds {} in no dict of the state dict, not loaded (a key "
                          "set twice keeps its last value; object state is not read): built at byte{} {}{}",
                          file_, offsets.size(), offsets.size() > 1 ? "s" : "", offsets.size() > 1 ? "are" : "is",
                          offsets.size() > 1 ? "s" : "",
                          fmt::join(offsets.begin(), offsets.begin() + static_cast<ptrdiff_t>(shown), ", "),
                          offsets.size() > shown ? fmt::format(" and {} more", offsets.size() - shown) : ""));
  }

  const PickleArena& a_;
  const std::string& file_;
  const Logger& log_;
  const std::vector<bool> reaches_;
  std::vector<NamedTensor> out_;
  std::vector<std::string> wheres_;                  // parallel to out_
  std::unordered_map<std::string, size_t> by_name_;  // into out_
  std::unordered_set<PyId> loaded_, reached_;
  std::unordered_map<PyId, std::string> seen_;  // container -> where first listed
  std::vector<std::pair<PyId, Path>> training_;
  bool dropping_ = false;
  std::vector<std::string> dropped_;
  uint64_t skipped_ = 0;
};

}  // namespace

std::vector<NamedTensor> collect_state_dict(const PickleArena& arena, PyId root, const std::string& file,
                                            const Logger& log) {
  return Collector(arena, file, log).run(root);
}

}  // namespace wm
