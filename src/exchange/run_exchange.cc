#include "exchange/run_exchange.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

#include "exchange/needed_runs.h"
#include "exchange/rank_agreement.h"
#include "io/staged_copy.h"

namespace wm {
namespace {

// Parts start on 1 MiB (whole pages, large reads), or on pages when the
// shares are small.
uint64_t part_align(uint64_t span, uint32_t world) { return span / world >= (16ull << 20) ? 1ull << 20 : 4096; }

Result<std::vector<std::vector<FileRuns>>> gather_runs(Collective& c, const std::vector<FileRuns>& mine) {
  const std::vector<uint64_t> words = encode_runs(mine);
  auto blobs = allgather_blobs(c, std::as_bytes(std::span(words)));
  if (!blobs) return blobs.error();
  std::vector<std::vector<FileRuns>> all;
  for (uint32_t r = 0; r < c.world(); ++r) {
    const auto& b = (*blobs)[r];
    std::vector<uint64_t> w(b.size() / sizeof(uint64_t));
    if (!w.empty()) std::memcpy(w.data(), b.data(), w.size() * sizeof(uint64_t));
    auto runs = decode_runs(w, mine.size());
    if (!runs) return Error{{}, {}, {}, fmt::format("rank {}'s byte runs: {}", r, runs.error().message)};
    all.push_back(std::move(runs.value()));
  }
  return all;
}

// One file's exchange, round after round; adds to `out`'s counts.
class FileExchange {
 public:
  FileExchange(Collective& c, const File& file, StagedCopy& staged, const std::vector<const FileRuns*>& runs,
               uint64_t round_bytes)
      : c_(c), file_(file), staged_(staged), runs_(runs), me_(c.rank()), world_(c.world()),
        round_bytes_(round_bytes) {
    uint64_t lo = UINT64_MAX, hi = 0;
    for (const FileRuns* r : runs_)
      for (const ByteRun& b : *r) {
        lo = std::min(lo, b.offset);
        hi = std::max(hi, b.end());
      }
    if (lo < hi) parts_ = rank_parts(lo, hi, world_, part_align(hi - lo, world_));
    uint64_t longest = 0;
    for (const auto& [a, b] : parts_) longest = std::max(longest, b - a);
    rounds_ = (longest + round_bytes_ - 1) / round_bytes_;
  }

  uint64_t rounds() const { return rounds_; }

  Status run(ExchangeResult& out) {
    std::vector<std::byte> buf, send, recv;
    Status pending;  // a failed write of the round before, agreed on with the next round's reads
    for (uint64_t r = 0; r < rounds_; ++r) {
      const auto mine = window(me_, r);
      const uint64_t wb = mine.first, we = mine.second;  // (not a structured binding: lambdas below capture them)
      buf.resize(we - wb);
      Status s = pending;
      if (s.ok() && !buf.empty()) s = file_.read_exact(wb, buf);
      if (Status all = agree_ranks(c_, s); !all) return all;
      out.read_bytes += buf.size();

      std::vector<uint64_t> send_counts(world_, 0), send_offsets(world_, 0), recv_counts(world_, 0),
          recv_offsets(world_, 0);
      uint64_t total = 0;
      for (uint32_t j = 0; j < world_; ++j) {
        send_offsets[j] = total;
        if (j != me_) total += send_counts[j] = bytes_within(*runs_[j], wb, we);
      }
      send.resize(total);
      for (uint32_t j = 0; j < world_; ++j) {
        if (j == me_) continue;
        std::byte* at = send.data() + send_offsets[j];
        for_each_piece(*runs_[j], wb, we, [&](uint64_t off, uint64_t len) {
          std::memcpy(at, buf.data() + (off - wb), len);
          at += len;
        });
      }
      // This rank's own needs come straight from its read.
      for_each_piece(*runs_[me_], wb, we, [&](uint64_t off, uint64_t len) {
        if (pending.ok()) pending = staged_.write(off, std::span(buf).subspan(off - wb, len));
        out.staged_bytes += len;
      });
      total = 0;
      for (uint32_t k = 0; k < world_; ++k) {
        recv_offsets[k] = total;
        if (k != me_) {
          const auto theirs = window(k, r);
          total += recv_counts[k] = bytes_within(*runs_[me_], theirs.first, theirs.second);
        }
      }
      recv.resize(total);
      if (Status x = c_.alltoallv(send.data(), send_counts, send_offsets, recv.data(), recv_counts, recv_offsets); !x)
        return x;
      for (uint32_t k = 0; k < world_; ++k) {
        if (k == me_) continue;
        out.sent_bytes += send_counts[k];
        out.received_bytes += recv_counts[k];
        const auto theirs = window(k, r);
        const std::byte* at = recv.data() + recv_offsets[k];
        for_each_piece(*runs_[me_], theirs.first, theirs.second, [&](uint64_t off, uint64_t len) {
          if (pending.ok()) pending = staged_.write(off, std::span(at, len));
          at += len;
          out.staged_bytes += len;
        });
      }
    }
    return agree_ranks(c_, pending);
  }

 private:
  // Rank k's bytes of round r: its part's r-th window, maybe empty.
  std::pair<uint64_t, uint64_t> window(uint32_t k, uint64_t r) const {
    const auto [a, b] = parts_[k];
    const uint64_t wb = std::min(b, a + r * round_bytes_), we = std::min(b, wb + round_bytes_);
    return {wb, we};
  }

  Collective& c_;
  const File& file_;
  StagedCopy& staged_;
  std::vector<const FileRuns*> runs_;
  uint32_t me_, world_;
  uint64_t round_bytes_;
  std::vector<std::pair<uint64_t, uint64_t>> parts_;
  uint64_t rounds_ = 0;
};

}  // namespace

std::vector<std::pair<uint64_t, uint64_t>> rank_parts(uint64_t begin, uint64_t end, uint32_t world, uint64_t align) {
  std::vector<std::pair<uint64_t, uint64_t>> parts(world);
  const uint64_t span = end - begin;
  uint64_t at = begin;
  for (uint32_t k = 0; k < world; ++k) {
    uint64_t to = end;
    if (k + 1 < world) {
      // Split at the multiple of `align` nearest the even share's end.
      const uint64_t even = begin + span / world * (k + 1) + span % world * (k + 1) / world;
      to = std::clamp((even + align / 2) / align * align, at, end);
    }
    parts[k] = {at, to};
    at = to;
  }
  return parts;
}

Result<ExchangeResult> run_exchange(Collective& c, const TensorTable& table, const ShardOptions& options) {
  ExchangeResult out;
  out.staging_dir = options.staging_dir.empty() ? default_staging_dir() : options.staging_dir;
  const uint64_t round_bytes = std::clamp<uint64_t>(options.exchange_round_bytes, 4096, 1ull << 30);
  if (c.world() > 1 && round_bytes > (uint64_t{INT32_MAX} / (c.world() - 1)))
    return Error{{}, {}, {},
                 fmt::format("exchange_round_bytes {} is too large for {} ranks (each round's buffer must stay "
                             "below 2 GiB)",
                             round_bytes, c.world()),
                 ErrorCode::kInvalidArgument};

  const std::vector<FileRuns> mine = needed_runs(table);
  auto all = gather_runs(c, mine);
  if (!all) return all.error();

  // The staged copies: every rank creates its own before anyone reads.
  std::vector<StagedCopy> copies;
  Status made;
  for (const FileInfo& f : table.files()) {
    auto copy = StagedCopy::create(out.staging_dir, f.size, f.path + " (staged copy)");
    if (!copy) {
      made = copy.error();
      break;
    }
    copies.push_back(std::move(copy.value()));
  }
  if (made.ok())
    for (const FileInfo& f : table.files())
      if (!f.opened) {
        made = Error{f.path, {}, {}, "the exchange needs the file as parsed (it was parsed from memory)"};
        break;
      }
  if (Status s = agree_ranks(c, made); !s) return s.error();

  for (size_t f = 0; f < table.files().size(); ++f) {
    std::vector<const FileRuns*> runs;
    for (uint32_t r = 0; r < c.world(); ++r) runs.push_back(&(*all)[r][f]);
    FileExchange x(c, *table.files()[f].opened, copies[f], runs, round_bytes);
    out.rounds += x.rounds();
    if (Status s = x.run(out); !s) return s.error();
  }
  for (StagedCopy& copy : copies) {
    auto file = copy.file();
    if (!file) return file.error();
    out.staged.push_back(std::make_shared<const File>(std::move(file.value())));
  }
  return out;
}

Result<uint64_t> release_gathered(const TensorTable& table) {
  uint64_t freed = 0;
  for (const TensorInfo& t : table.tensors()) {
    const ByteRun run = tensor_run(t);
    if (!t.source.gather || run.count == 0 || run.len == 0) continue;
    // The tensor's whole extent in the file: this rank's row segments and
    // the other ranks' columns between them (pages it holds only partly).
    const uint64_t extent = run.end() - run.offset;
    const File& staged = *table.files()[t.file].opened;
    if (Status s = release_staged_range(staged, t.offset, extent); !s) return s.error();
    freed += extent;
  }
  return freed;
}

}  // namespace wm
