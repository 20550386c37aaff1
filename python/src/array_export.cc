// The zero-copy view: a nanobind ndarray over the tensor's bytes whose
// owner capsule carries a shared reference to the model.
#include "array_export.h"

#include <nanobind/ndarray.h>

namespace nb = nanobind;
using namespace nb::literals;

namespace wmpy {
namespace {

struct ViewOwner {
  std::shared_ptr<ModelState> state;
  size_t tensor;
};

// A valid address for empty tensors (a null data pointer is not a valid array).
alignas(64) const std::byte kEmpty[1] = {};

}  // namespace

nb::object view_tensor_bytes(const std::shared_ptr<ModelState>& state, size_t index) {
  const wm::Tensor& t = state->model().tensor(index);
  const std::byte* data = t.nbytes ? t.host_data : kEmpty;
  auto owner = std::make_unique<ViewOwner>(ViewOwner{state, index});
  nb::capsule capsule(owner.get(), [](void* p) noexcept {
    auto* o = static_cast<ViewOwner*>(p);
    o->state->array_gone(o->tensor);
    delete o;  // may drop the last reference: ModelState releases the model
  });
  (void)owner.release();  // the capsule owns it now
  state->array_taken(index);
  nb::ndarray<nb::numpy, const uint8_t, nb::ndim<1>> array(data, {static_cast<size_t>(t.nbytes)}, capsule);
  return nb::cast(array);
}

nb::object new_byte_array(size_t nbytes, std::byte** data) {
  nb::object np = nb::module_::import_("numpy");
  nb::object array = np.attr("empty")(nbytes, "dtype"_a = np.attr("uint8"));
  auto view = nb::cast<nb::ndarray<uint8_t, nb::ndim<1>, nb::c_contig>>(array);
  *data = reinterpret_cast<std::byte*>(view.data());
  return array;
}

}  // namespace wmpy
