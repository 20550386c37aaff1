// UringReader on Windows: overlapped ReadFile, up to `depth` pieces in
// flight, each with its own event. The handle a caller passes was opened
// for synchronous reads (File, DirectFile), on which an overlapped read
// would block; ReOpenFile gives a second handle to the same file with
// FILE_FLAG_OVERLAPPED for the length of one read() call.
#include "io/uring_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fmt/format.h>
#include <vector>

#include "io/fault_injection.h"
#include "io/read_pieces.h"
#include "io/windows/win32.h"

namespace wm {

// One event per slot, made once per reader.
struct UringReader::Ring {
  std::vector<HANDLE> events;
  ~Ring() {
    for (HANDLE e : events) CloseHandle(e);
  }
};

Result<UringReader> UringReader::create(unsigned depth, uint64_t piece_bytes) {
  depth = std::max(depth, 1u);
  auto ring = std::make_unique<Ring>();
  for (unsigned i = 0; i < depth; ++i) {
    HANDLE e = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    if (e == nullptr) return Error{{}, {}, {}, fmt::format("CreateEvent failed: {}", win::error_text(GetLastError()))};
    ring->events.push_back(e);
  }
  // Pieces stay below ReadFile's 4 GiB limit and sector-aligned.
  piece_bytes = std::clamp<uint64_t>(piece_bytes, 4096, 1ull << 30);
  return UringReader(std::move(ring), depth, piece_bytes);
}

UringReader::UringReader(std::unique_ptr<Ring> ring, unsigned depth, uint64_t piece)
    : ring_(std::move(ring)), depth_(depth), piece_(piece) {}
UringReader::UringReader(UringReader&&) noexcept = default;
UringReader& UringReader::operator=(UringReader&&) noexcept = default;
UringReader::~UringReader() = default;

Status UringReader::read(NativeHandle file, const std::string& path, uint64_t offset, std::span<std::byte> dst) {
  if (broken_) return Error{path, {}, offset, "overlapped reader unusable after an earlier failure"};
  if (dst.empty()) return {};
  // An overlapped handle on the same file, buffered: a direct (uncached)
  // caller's reads go through the cache here, which costs cache, not
  // correctness (Windows cannot tell us how the caller's handle was opened).
  HANDLE h = ReOpenFile(win::handle_of(file), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                        FILE_FLAG_OVERLAPPED);
  if (h == INVALID_HANDLE_VALUE)
    return Error{path, {}, offset,
                 fmt::format("cannot reopen the file for overlapped reads: {}", win::error_text(GetLastError()))};

  struct Slot {
    OVERLAPPED ov{};
    size_t piece = 0;
    bool busy = false;
  };
  std::vector<ReadPiece> pieces = split_read(dst.size(), piece_);
  std::vector<Slot> slots(depth_);
  std::deque<size_t> todo;
  for (size_t k = 0; k < pieces.size(); ++k) todo.push_back(k);
  size_t finished = 0;
  std::optional<Error> error;

  auto issue = [&](Slot& s, size_t k) -> bool {
    ReadPiece& p = pieces[k];
    const uint64_t at = offset + p.start + p.done;
    s.ov = OVERLAPPED{};
    s.ov.Offset = static_cast<DWORD>(at);
    s.ov.OffsetHigh = static_cast<DWORD>(at >> 32);
    s.ov.hEvent = ring_->events[static_cast<size_t>(&s - slots.data())];
    ResetEvent(s.ov.hEvent);
    s.piece = k;
    if (std::optional<int> injected = sys::uring_submit(); injected && *injected < 0) {
      error = Error{path, {}, at, fmt::format("overlapped read not issued: {}", std::strerror(-*injected))};
      return false;
    }
    if (!ReadFile(h, dst.data() + p.start + p.done, static_cast<DWORD>(p.left()), nullptr, &s.ov) &&
        GetLastError() != ERROR_IO_PENDING) {
      DWORD err = GetLastError();
      if (err == ERROR_HANDLE_EOF) {  // finished at once: reported through the completion below
        s.busy = true;
        return true;
      }
      error = Error{path, {}, at, fmt::format("overlapped read failed: {}", win::error_text(err))};
      return false;
    }
    s.busy = true;
    return true;
  };

  while (finished < pieces.size() && !error) {
    for (Slot& s : slots)
      if (!s.busy && !todo.empty() && !error) {
        size_t k = todo.front();
        todo.pop_front();
        if (!issue(s, k)) break;
      }
    // Complete the slots in turn (each wait blocks only on its own read).
    for (Slot& s : slots) {
      if (!s.busy) continue;
      DWORD got = 0;
      BOOL ok = GetOverlappedResult(h, &s.ov, &got, TRUE);
      DWORD err = ok ? 0 : GetLastError();
      s.busy = false;
      int res = ok ? static_cast<int>(got) : err == ERROR_HANDLE_EOF ? 0 : -win::errno_of(err);
      auto step = finish_piece(file, pieces[s.piece], res, path, offset, "overlapped read");
      if (!step) {
        if (!error) error = step.error();
      } else if (*step == PieceStep::kAgain) {
        todo.push_back(s.piece);
      } else {
        ++finished;
      }
    }
  }
  // Nothing may still write into dst when we return.
  for (Slot& s : slots)
    if (s.busy) {
      DWORD got = 0;
      GetOverlappedResult(h, &s.ov, &got, TRUE);
    }
  CloseHandle(h);
  if (error) return *error;
  return {};
}

}  // namespace wm
