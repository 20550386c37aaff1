// Test helpers for page-cache behaviour: making a file cold (synced, then
// evicted) and reading its residency, and telling whether this filesystem
// can be made cold at all (tmpfs cannot: its pages are the file).
#pragma once

#include <cstdint>
#include <string>

namespace wm {
class File;
}

namespace wm::test {

// Flushes the file's dirty pages (eviction skips dirty pages) and drops it
// from the page cache. Returns false when the file could not be opened.
bool make_cold(const std::string& path);
// Fraction of the file's bytes in the page cache (exact).
double cached_fraction(const std::string& path);
// Whether make_cold() works where `dir` lives; `why` says why not.
bool can_make_cold(const std::string& dir, std::string* why);
// Whether residency (io/residency.h) sees the system's page cache, so a
// file just read counts as resident; `why` says what it sees instead
// (Windows: only this process's working set).
bool residency_sees_page_cache(std::string* why);
// Turns the kernel's read-ahead off for the file (POSIX_FADV_RANDOM), so a
// read caches exactly what it read; false where there is no such advice.
bool advise_no_readahead(const File& file);

}  // namespace wm::test
