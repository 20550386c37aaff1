#include "load/copy_executor.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fmt/format.h>
#include <mutex>
#include <optional>
#include <thread>

#include "dtype/convert.h"
#include "io/page_size.h"
#include "io/platform.h"
#include "load/cache_window.h"
#include "load/staging_pool.h"
#include "load/tensor_source.h"

namespace wm {
namespace {

using Clock = std::chrono::steady_clock;

// One piece of one non-mapped tensor: source bytes [src_off, src_off +
// src_len) of the tensor, landing at dst_off of its destination.
struct Chunk {
  size_t tensor;
  uint64_t src_off, src_len, dst_off, elems;
};

// Uploads in flight to devices: their first failure, and the wall time from
// the first upload's start to the last one's completion (upload_ms).
// Thread-safe: done() callbacks run on device threads.
class UploadTracker {
 public:
  // A completion that keeps `held` (staging) alive until the device is done.
  UploadDone started(std::shared_ptr<void> held, std::string file, std::string tensor) {
    {
      std::lock_guard lock(mu_);
      if (!any_) first_ = Clock::now();
      any_ = true;
    }
    return [this, held = std::move(held), file = std::move(file), tensor = std::move(tensor)](Status s) mutable {
      held.reset();
      std::lock_guard lock(mu_);
      last_ = Clock::now();
      if (!s && !error_) {
        Error e = with_code(s.error(), ErrorCode::kDevice);
        if (e.file.empty()) e.file = file;
        if (e.tensor.empty()) e.tensor = tensor;
        e.message = "upload failed: " + e.message;
        error_ = std::move(e);
      }
    };
  }
  std::optional<Error> error() const {
    std::lock_guard lock(mu_);
    return error_;
  }
  double ms() const {
    std::lock_guard lock(mu_);
    return any_ && last_ > first_ ? std::chrono::duration<double, std::milli>(last_ - first_).count() : 0;
  }

 private:
  mutable std::mutex mu_;
  bool any_ = false;
  Clock::time_point first_, last_;
  std::optional<Error> error_;
};

// The first error of any worker; later ones are dropped. Thread-safe.
class FirstError {
 public:
  void set(Error e) {
    std::lock_guard lock(mu_);
    if (!error_) error_ = std::move(e);
    failed_ = true;
  }
  bool failed() const { return failed_; }
  std::optional<Error> take() {
    std::lock_guard lock(mu_);
    return std::move(error_);
  }

 private:
  std::mutex mu_;
  std::optional<Error> error_;
  std::atomic<bool> failed_{false};
};

class CopyExecutor {
 public:
  CopyExecutor(const CopyTargets& targets, const CopyOptions& options)
      : table_(*targets.table), files_(*targets.files), placed_(*targets.placed), devices_(*targets.devices),
        options_(options) {}

  Result<CopyReport> run() {
    // The budget is a hard limit (never below two pages, the least one
    // converting upload needs), whatever the worker count.
    const uint64_t page = page_size();
    const uint64_t budget = std::max<uint64_t>(options_.staging_bytes, 2 * page);
    const uint64_t max_slots = budget / page;
    // A converting upload holds a source and a target slot at once, and must
    // never wait on a slot no one will free: with more slots than workers,
    // some worker can always finish. So a budget too small to give every
    // worker its slots runs fewer workers rather than growing.
    unsigned threads = static_cast<unsigned>(std::clamp<uint64_t>(options_.threads, 1, max_slots - 1));
    uint64_t slots = std::min<uint64_t>(std::max<uint64_t>(2ull * threads + 2, 4), max_slots);
    uint64_t slot_bytes = budget / slots / page * page;  // >= page as slots <= max_slots
    StagingPool pool(budget, slot_bytes, staging_memory());

    const IoMode io = io_for_slots(pool.slot_bytes());
    std::unique_ptr<TensorSource> source = make_source(io, pool.slot_bytes());
    uint64_t window_bytes = io == IoMode::kDirect ? 0 : options_.cache_window_bytes;
    if (window_bytes > 0 && !supports(Capability::kPageCacheEviction)) {
      options_.log.info(fmt::format("cache window off: {}; consumed ranges stay cached",
                                    unsupported_reason(Capability::kPageCacheEviction)));
      window_bytes = 0;
    }
    CacheWindow window(window_bytes);
    CopyReport report;
    report.io_mode = io_mode_name(source->mode());
    report.cache_window_bytes = options_.cache_window_bytes;
    report.threads = threads;
    report.staging_budget_bytes = pool.budget_bytes();
    std::vector<Chunk> chunks = make_chunks(pool.slot_bytes() - source->bounce_overhead());

    uint64_t total = 0;
    for (const auto& c : chunks) total += c.src_len;
    std::atomic<size_t> next{0};
    std::atomic<uint64_t> done_bytes{0};
    FirstError first_error;
    std::mutex done_mu;
    size_t workers_done = 0;  // guarded by done_mu
    std::condition_variable all_done;

    const size_t n_workers = std::min<size_t>(threads, std::max<size_t>(chunks.size(), 1));
    std::vector<TensorSource::Worker> contexts;
    for (size_t w = 0; w < n_workers; ++w) contexts.push_back(source->make_worker());
    auto work = [&](TensorSource::Worker& ctx) {
      size_t k = 0;
      try {
        for (; !first_error.failed() && (k = next.fetch_add(1)) < chunks.size();) {
          if (Status s = run_chunk(chunks[k], pool, *source, ctx); !s) first_error.set(s.error());
          const TensorInfo& src = table_.tensors()[chunks[k].tensor];
          window.consumed(*files_[src.file], src.offset + chunks[k].src_off, chunks[k].src_len);
          done_bytes += chunks[k].src_len;
        }
      } catch (const std::bad_alloc&) {
        const TensorInfo& src = table_.tensors()[chunks[std::min(k, chunks.size() - 1)].tensor];
        first_error.set(Error{table_.files()[src.file].path, src.name, src.offset,
                              "out of memory in the copy path (converting or staging this tensor)"});
      }
      std::lock_guard lock(done_mu);
      ++workers_done;
      all_done.notify_all();
    };
    std::vector<std::thread> workers;
    for (size_t w = 0; w < n_workers; ++w) workers.emplace_back(work, std::ref(contexts[w]));
    if (options_.progress) {
      // Report about every 100 ms, but return as soon as the workers are
      // done: a small load must not wait out a polling period.
      std::unique_lock lock(done_mu);
      while (!all_done.wait_for(lock, std::chrono::milliseconds(100), [&] { return workers_done == workers.size(); })) {
        lock.unlock();
        options_.progress(done_bytes.load(), total);
        lock.lock();
      }
    }
    for (auto& w : workers) w.join();
    // Every upload finishes (or fails) before the model is handed out.
    std::vector<bool> used(devices_.size(), false);
    for (const auto& [device, buffer] : placed_.buffers.entries()) used[device] = true;
    for (size_t d = 0; d < used.size(); ++d)
      if (used[d])
        if (Status s = devices_[d]->synchronize(); !s)
          first_error.set(Error{{}, {}, {}, fmt::format("device '{}': {}", devices_[d]->caps().name,
                                                        s.error().to_string()),
                                ErrorCode::kDevice});
    if (auto e = uploads_.error()) first_error.set(*e);
    window.flush();
    report.cache_dropped_bytes = window.dropped_bytes();
    if (auto e = window.first_error())
      options_.log.warn(fmt::format("cache window: could not drop consumed ranges ({}); the cache may hold more",
                                    e->to_string()));
    if (options_.progress) options_.progress(done_bytes.load(), total);
    uint64_t read_ns = 0, convert_ns = 0;
    for (const auto& ctx : contexts) {
      read_ns += ctx.read_ns();
      convert_ns += ctx.convert_ns();
    }
    report.read_ms = static_cast<double>(read_ns) / 1e6;
    report.convert_ms = static_cast<double>(convert_ns) / 1e6;
    report.staging_peak_bytes = pool.peak_bytes();
    report.staging_device_bytes = pool.device_slots() * pool.slot_bytes();
    if (pool.device_slots())
      options_.log.info(fmt::format("staging: {} of the slots are the device's own staging memory", pool.device_slots()));
    // A device that offers none returns null from the first slot on (the
    // default); one that gave some and then refused ran out of it.
    if (const uint64_t made = pool.peak_bytes() / pool.slot_bytes(); pool.device_slots() && pool.device_slots() < made)
      options_.log.warn(fmt::format("staging: {} of {} slots are ordinary memory: the device refused its staging memory "
                                    "(pinned memory limit?), so those uploads are slower",
                                    made - pool.device_slots(), made));
    report.upload_ms = uploads_.ms();
    if (auto e = first_error.take()) return *e;
    return report;
  }

 private:
  // The io mode asked for, unless staging slots are too small for O_DIRECT
  // (then buffered, logged).
  IoMode io_for_slots(uint64_t slot_bytes) const {
    const uint64_t least = 8 * page_size();  // a read of a few pages plus an aligned block at each end
    if (options_.io != IoMode::kDirect || least <= slot_bytes) return options_.io;
    options_.log.warn(fmt::format("--io direct needs staging slots of at least {} KiB ({} here); reading buffered",
                                  least / 1024, slot_bytes));
    return IoMode::kRead;
  }

  // The source the workers read through: with `io` where the files allow it
  // and the slots hold its alignment, else buffered (logged).
  std::unique_ptr<TensorSource> make_source(IoMode io, uint64_t slot_bytes) const {
    std::vector<bool> wanted(files_.size(), false);
    for (size_t i = 0; i < placed_.tensors.size(); ++i)
      if (placed_.tensors[i].placement != Placement::kMap) wanted[table_.tensors()[i].file] = true;
    auto source = std::make_unique<TensorSource>(table_, files_, io, options_.log, wanted);
    if (source->bounce_overhead() * 2 > slot_bytes) {
      options_.log.warn(fmt::format("O_DIRECT alignment of {} bytes does not fit staging slots of {}; reading buffered",
                                    source->bounce_overhead() / 2, slot_bytes));
      source = std::make_unique<TensorSource>(table_, files_, IoMode::kRead, options_.log, wanted);
    }
    return source;
  }

  // Splits every non-mapped tensor into chunks that fit one staging slot in
  // both their source and their target dtype.
  std::vector<Chunk> make_chunks(uint64_t slot_bytes) const {
    std::vector<Chunk> chunks;
    for (size_t i = 0; i < table_.tensors().size(); ++i) {
      const Tensor& t = placed_.tensors[i];
      if (t.placement == Placement::kMap || t.nbytes == 0) continue;
      const TensorInfo& src = table_.tensors()[i];
      const DTypeInfo& s = dtype_info(src.dtype);
      if (src.source.whole_only()) {  // PyTorch view or compressed entry: one whole-tensor chunk, see run_chunk
        chunks.push_back({i, 0, src.nbytes, 0, elements_in(src.dtype, src.nbytes)});
        continue;
      }
      // Whole source blocks per chunk; a block converts to block_elems target elements.
      uint64_t src_block = s.block_bytes;
      uint64_t dst_block = converted_bytes(src.dtype, t.dtype, 1);
      uint64_t blocks_per_chunk = std::max<uint64_t>(1, slot_bytes / std::max(src_block, dst_block));
      uint64_t n_blocks = src.nbytes / src_block;
      for (uint64_t b = 0; b < n_blocks; b += blocks_per_chunk) {
        uint64_t nb = std::min(blocks_per_chunk, n_blocks - b);
        chunks.push_back({i, b * src_block, nb * src_block, b * dst_block, nb * s.block_elems});
      }
    }
    return chunks;
  }

  // Staging slots from the first device this load uploads to, when it
  // offers memory it uploads from fastest (pinned host memory for a GPU):
  // reads land there and go to the device without another copy.
  StagingPool::SlotMemory staging_memory() const {
    for (const auto& [device, buffer] : placed_.buffers.entries()) {
      if (device == 0 || buffer.host_ptr) continue;  // host copies need no staging memory of a device's
      Device* d = devices_[device].get();
      options_.log.debug(fmt::format("staging slots: asking device '{}' for its staging memory", d->caps().name));
      return {[d](uint64_t n) { return d->allocate_staging(n); }, [d](std::byte* p, uint64_t n) { d->free_staging(p, n); }};
    }
    return {};
  }

  Status run_chunk(const Chunk& c, StagingPool& pool, const TensorSource& source, TensorSource::Worker& ctx) {
    const TensorInfo& src = table_.tensors()[c.tensor];
    const Tensor& t = placed_.tensors[c.tensor];
    const std::span<std::byte> host = placed_.writable[c.tensor];
    const std::string& path = files_[src.file]->path();
    const uint64_t src_block = dtype_info(src.dtype).block_bytes;
    const uint64_t first_block = c.src_off / src_block, n_blocks = c.src_len / src_block;
    const uint64_t out_len = converted_bytes(src.dtype, t.dtype, n_blocks);
    // A PyTorch view or compressed zip entry (one whole-tensor chunk) is
    // gathered or inflated whole, outside the staging pool.
    if (src.source.whole_only()) {
      if (!host.empty()) return source.read(ctx, c.tensor, t.dtype, 0, n_blocks, host);
      auto held = std::make_shared<std::vector<std::byte>>(t.nbytes);
      if (Status s = source.read(ctx, c.tensor, t.dtype, 0, n_blocks, *held); !s) return s;
      devices_[t.device]->upload(t.device_buffer, 0, held->data(), held->size(), uploads_.started(held, path, src.name));
      return {};
    }
    auto slot_span = [&](StagingPool::Slot& slot) { return std::span<std::byte>(slot.data(), pool.slot_bytes()); };
    if (!host.empty()) {  // host memory, or a device buffer the host may write
      std::span<std::byte> dst = host.subspan(c.dst_off, out_len);
      if (t.dtype == src.dtype && !source.bounces(src.file))  // straight into place: no staging needed
        return source.read(ctx, c.tensor, t.dtype, first_block, n_blocks, dst);
      StagingPool::Slot in = pool.acquire();
      return source.read(ctx, c.tensor, t.dtype, first_block, n_blocks, dst, slot_span(in));
    }
    // A device buffer the host cannot write: stage, convert if needed, upload.
    Device& device = *devices_[t.device];
    auto in = std::make_shared<StagingPool::Slot>(pool.acquire());
    if (t.dtype == src.dtype || device.converts(src.dtype, t.dtype)) {  // upload the file's bytes
      auto bytes = source.read_source(ctx, c.tensor, first_block, n_blocks, slot_span(*in));
      if (!bytes) return bytes.error();
      if (t.dtype == src.dtype)
        device.upload(t.device_buffer, c.dst_off, *bytes, c.src_len, uploads_.started(in, path, src.name));
      else  // the device converts
        device.upload_converted(t.device_buffer, c.dst_off, *bytes, c.src_len, src.dtype, t.dtype, c.elems,
                                uploads_.started(in, path, src.name));
      return {};
    }
    auto out = std::make_shared<StagingPool::Slot>(pool.acquire());
    if (Status s = source.read(ctx, c.tensor, t.dtype, first_block, n_blocks, {out->data(), out_len}, slot_span(*in));
        !s)
      return s;
    in.reset();  // the source slot is free for other workers while the upload runs
    device.upload(t.device_buffer, c.dst_off, out->data(), out_len, uploads_.started(out, path, src.name));
    return {};
  }

  const TensorTable& table_;
  const std::vector<std::shared_ptr<const File>>& files_;
  const PlacedTensors& placed_;
  const std::vector<std::shared_ptr<Device>>& devices_;
  const CopyOptions& options_;
  UploadTracker uploads_;
};

}  // namespace

Result<CopyReport> run_copies(const CopyTargets& targets, const CopyOptions& options) {
  return CopyExecutor(targets, options).run();
}

}  // namespace wm
