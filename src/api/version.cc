#include "weightmap/version.hpp"

namespace wm {

const char* version() { return WEIGHTMAP_VERSION_STRING; }

}  // namespace wm
