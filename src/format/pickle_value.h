// The values a restricted unpickler can build: plain Python data (None,
// bools, ints, floats, strings, tuples, lists, dicts), references to the few
// allowed globals, and the two things a PyTorch state dict is made of,
// storages (from persistent ids) and tensors (views of storages). Nothing in
// here is executable; building these values runs no code from the file.
//
// Values live in one arena (PickleArena) and refer to each other by index,
// so the shared and even cyclic references a pickle's memo can create cost
// nothing to free and cannot leak.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "dtype/dtype.h"

namespace wm {

using PyId = uint32_t;

enum class PyKind : uint8_t {
  kNone, kBool, kInt, kBigInt, kFloat, kStr, kBytes, kTuple, kList, kDict,
  kGlobal,   // an allowed global (class or function), see PyGlobal
  kStorage,  // a PyTorch storage named by a persistent id
  kTensor,   // a view of a storage (torch._utils._rebuild_tensor_v2)
  kOpaque,   // an inert value we do not model (a numpy scalar, a set, ...)
};
const char* py_kind_name(PyKind k);

// The globals a state dict may name. Everything else is refused.
enum class PyGlobal : uint8_t {
  kNone,
  kOrderedDict,       // collections.OrderedDict
  kRebuildTensor,     // torch._utils._rebuild_tensor_v2
  kRebuildParameter,  // torch._utils._rebuild_parameter (nn.Parameter)
  kStorageType,       // torch.FloatStorage, ... (dtype in PyObject::dtype)
  kInert,             // data-only helpers seen in real checkpoints; their results are opaque
};

struct PyStorage {
  DType dtype = DType::F32;
  std::string key;       // archive entry name (zip: data/<key>) or legacy key
  std::string location;  // "cpu", "cuda:0", ...
  uint64_t numel = 0;    // elements of dtype
  // Legacy format only: a view of another storage, (key, offset, numel).
  bool is_view = false;
  std::string view_key;
  uint64_t view_offset = 0;
  uint64_t view_numel = 0;
};

struct PyTensor {
  PyId storage = 0;  // a kStorage value
  uint64_t storage_offset = 0;  // elements
  std::vector<uint64_t> shape, strides;  // outermost first; strides in elements
  uint64_t at = 0;  // byte offset in the pickle of the REDUCE that built it, for errors
};

struct PyObject {
  PyKind kind = PyKind::kNone;
  PyGlobal global = PyGlobal::kNone;  // kGlobal only
  DType dtype = DType::F32;           // kGlobal kStorageType only
  int64_t i = 0;                      // kBool, kInt
  double f = 0;                       // kFloat
  std::string s;                      // kStr, kBytes; kBigInt: little-endian two's complement; kGlobal/kOpaque: name
  std::vector<PyId> items;            // kTuple, kList; kDict: key, value, key, value, ...
  uint32_t payload = 0;               // index into PickleArena::storages / tensors
};

struct PickleArena {
  std::vector<PyObject> objects;
  std::vector<PyStorage> storages;
  std::vector<PyTensor> tensors;
  // Per dict, the position in `items` of each str or int key (SETITEM
  // replaces), keyed "s<str>" / "i<int>".
  std::unordered_map<PyId, std::unordered_map<std::string, size_t>> dict_index;

  const PyObject& operator[](PyId id) const { return objects[id]; }
  PyObject& operator[](PyId id) { return objects[id]; }
};

}  // namespace wm
