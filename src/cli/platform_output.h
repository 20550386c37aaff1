// How `platform` shows the capabilities: text for people, JSON for tools.
#pragma once

#include <string>

namespace wm::cli {

std::string platform_text();
std::string platform_json();

}  // namespace wm::cli
