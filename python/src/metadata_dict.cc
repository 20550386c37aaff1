// The public API's typed getters answer for compatible types too (an int
// reads as a float, a bool as an int), so each key is tried from the
// narrowest type out; bools are told from ints by their text.
#include "metadata_dict.h"

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

namespace nb = nanobind;

namespace wmpy {
namespace {

bool is_bool_text(const std::string& t) { return t == "true" || t == "false"; }

// "[true, false]" -> {true, false}; nullopt when an item is not a bool.
std::optional<nb::list> bool_list(const std::string& text, size_t count) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return std::nullopt;
  nb::list out;
  size_t pos = 1;
  while (pos < text.size() - 1) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size() - 1;
    std::string item = text.substr(pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    if (!is_bool_text(item)) return std::nullopt;
    out.append(nb::bool_(item == "true"));
    pos = end + 1;
  }
  if (out.size() != count) return std::nullopt;
  return out;
}

bool all_digits(const std::string& t) {
  if (t.empty()) return false;
  for (char c : t)
    if (c < '0' || c > '9') return false;
  return true;
}

nb::object value_of(const wm::Model& m, const std::string& key) {
  std::string text = m.metadata_text(key).value_or("");
  if (auto i = m.metadata_int(key)) {
    if (is_bool_text(text)) return nb::bool_(text == "true");
    return nb::int_(*i);
  }
  if (auto s = m.metadata_string(key)) return nb::str(s->c_str(), s->size());
  if (auto f = m.metadata_float(key)) {
    // A U64 beyond int64 reads as a float; its text keeps every digit.
    if (*f >= 0x1p63 && all_digits(text)) return nb::module_::import_("builtins").attr("int")(nb::str(text.c_str(), text.size()));
    return nb::float_(*f);
  }
  if (auto ints = m.metadata_ints(key)) {
    if (!ints->empty())
      if (auto bools = bool_list(text, ints->size())) return *bools;
    return nb::cast(*ints);
  }
  if (auto floats = m.metadata_floats(key)) return nb::cast(*floats);
  if (auto strings = m.metadata_strings(key)) return nb::cast(*strings);
  return nb::str(text.c_str(), text.size());
}

}  // namespace

nb::dict metadata_dict(const wm::Model& model) {
  nb::dict out;
  for (const std::string& key : model.metadata_keys()) out[nb::str(key.c_str(), key.size())] = value_of(model, key);
  return out;
}

}  // namespace wmpy
