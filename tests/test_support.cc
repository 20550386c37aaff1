#include "test_support.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "io/child_process.h"

namespace wm::test {

// temp_directory_path: $TMPDIR (or /tmp) on POSIX, %TEMP% on Windows. A new
// random name each try; create_directory says whether it was ours.
TempDir::TempDir() {
  std::error_code ec;
  std::filesystem::path base = std::filesystem::temp_directory_path(ec);
  if (ec) base = ".";
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::filesystem::path dir = base / ("wmtest." + std::to_string(rd()));
    if (std::filesystem::create_directory(dir, ec)) {
      path_ = dir.generic_string();
      return;
    }
  }
  std::abort();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<std::byte> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  if (!chars.empty()) std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

void write_file(const std::string& path, const std::vector<std::byte>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

bool replace_open_file(const std::string& from, const std::string& to, std::string* why) {
  std::error_code ec;
  std::filesystem::rename(from, to, ec);
  if (!ec) return true;
  if (why) *why = "the OS refused to replace a file that is open (" + ec.message() + ")";
  std::filesystem::remove(from, ec);
  return false;
}

bool remove_open_file(const std::string& path, std::string* why) {
  std::error_code ec;
  if (!std::filesystem::remove(path, ec) || ec) {
    if (why) *why = "the OS refused to remove a file that is open (" + ec.message() + ")";
    return false;
  }
  if (std::filesystem::exists(path, ec)) {
    if (why) *why = "the OS keeps a removed file's name until its last handle closes (delete on close)";
    return false;
  }
  return true;
}

bool write_at(const std::string& path, uint64_t offset, const std::vector<std::byte>& bytes) {
  std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
  if (!out) return false;
  out.seekp(static_cast<std::streamoff>(offset));
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.flush();
  return static_cast<bool>(out);
}

void poke_u32(std::vector<std::byte>& bytes, size_t at, uint32_t v) { std::memcpy(bytes.data() + at, &v, 4); }
void poke_u64(std::vector<std::byte>& bytes, size_t at, uint64_t v) { std::memcpy(bytes.data() + at, &v, 8); }

double half_value(uint16_t h) {
  int sign = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  double v;
  if (e == 0x1f) v = m ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else if (e == 0) v = std::ldexp(m, -24);
  else v = std::ldexp(1024 + m, e - 25);
  return sign ? -v : v;
}

std::vector<std::byte> pattern(size_t n, uint32_t seed) {
  std::vector<std::byte> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) {
    x = x * 1103515245u + 12345u;
    b = static_cast<std::byte>(x >> 24);
  }
  return v;
}

namespace {
// `args` split as a POSIX shell splits words: blanks separate, '...' and
// "..." quote (no expansion). The CLI is run directly (no shell), the same
// way on every OS.
std::vector<std::string> split_words(const std::string& args) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (char c : args) {
    if (quote) {
      if (c == quote) quote = 0;
      else word.push_back(c);
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word.push_back(c);
      in_word = true;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}
}  // namespace

bool draws_progress(const std::string& err) {
  for (size_t i = err.find('\r'); i != std::string::npos; i = err.find('\r', i + 1))
    if (i + 1 == err.size() || err[i + 1] != '\n') return true;
  return false;
}

std::vector<std::string> cli_argv(const std::string& args) {
  std::vector<std::string> argv = split_words(args);
  // WM_CLI_PATH is the CLI's path, with the emulator and its options in front
  // in a qemu cross build ("qemu-aarch64 -L / .../weightmap"): looked up in PATH.
  std::vector<std::string> cli = split_words(WM_CLI_PATH);
  argv.insert(argv.begin(), cli.begin(), cli.end());
  return argv;
}

CommandResult run_cli(const std::string& args) {
  std::vector<std::string> argv = cli_argv(args);
  ChildOptions options;
  options.search_path = true;
  options.capture_stderr = true;
  CommandResult r;
  auto child = run_child(argv, options);
  if (!child) {
    r.err = child.error().message;
    return r;
  }
  r.exit_code = child->exited ? child->exit_code : -1;
  r.out = std::move(child->out);
  r.err = std::move(child->err);
  return r;
}

}  // namespace wm::test
