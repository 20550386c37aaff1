// Joining a folder and a name into a path for the files weightmap finds
// itself (shards an index names, components of a pipeline folder, a
// PEFT config beside its adapter, converted outputs). std::filesystem's
// `/` uses the platform's separator, so on Windows "C:/models/sd" / "vae"
// gives "C:/models/sd\vae"; here the folder's own separator is kept, so
// paths in reports and errors read the way the user wrote the folder.
#pragma once

#include <string>
#include <string_view>

namespace wm {

// `dir` + one separator + `name`. The separator is '/' unless the platform
// has another (Windows: '\\') and `dir` uses only that one; the separators
// inside `name` become the same. An empty `dir` gives `name`.
std::string join_path(std::string_view dir, std::string_view name);

}  // namespace wm
