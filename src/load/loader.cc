#include "load/loader.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <condition_variable>
#include <mutex>
#include <sys/mman.h>
#include <thread>

#include "dtype/convert.h"
#include "io/fault_injection.h"
#include "io/process_memory.h"
#include "io/file_lock.h"
#include "io/residency.h"
#include "load/cache_window.h"
#include "load/tensor_source.h"
#include "load/staging_pool.h"

namespace wm {

Result<std::vector<std::shared_ptr<Device>>> make_devices(const std::vector<std::shared_ptr<Device>>& extra) {
  std::vector<std::shared_ptr<Device>> all{make_cpu_device(), make_sim_device()};
  for (const auto& d : extra) {
    if (!d) return Error{{}, {}, {}, "Options::devices holds a null device", ErrorCode::kInvalidArgument};
    const std::string& name = d->caps().name;
    if (name.empty() || name.find_first_of(",=*? ") != std::string::npos)
      return Error{{}, {}, {}, fmt::format("device name '{}' cannot be used in device rules (empty, or has one of "
                                           "',=*? ')", name), ErrorCode::kInvalidArgument};
    for (const auto& other : all)
      if (other->caps().name == name)
        return Error{{}, {}, {}, fmt::format("two devices are named '{}' (\"cpu\" and \"sim\" are built in)", name),
                     ErrorCode::kInvalidArgument};
    all.push_back(d);
  }
  return all;
}

std::vector<DeviceCaps> device_caps_of(const std::vector<std::shared_ptr<Device>>& devices) {
  std::vector<DeviceCaps> caps;
  for (const auto& d : devices) caps.push_back(d->caps());
  return caps;
}

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// One piece of one non-mapped tensor: source bytes [src_off, src_off +
// src_len) of the tensor, landing at dst_off of its destination.
struct Chunk {
  size_t tensor;
  uint64_t src_off, src_len, dst_off, elems;
};

// Bytes of anonymous memory a plan's execution allocates.
uint64_t anon_bytes_of(const LoadPlan& plan, uint64_t staging_bytes) {
  uint64_t need = 0;
  bool copies = false;
  for (const TensorPlan& p : plan.tensors) {
    if (p.placement == Placement::kMap) continue;
    need += p.nbytes;  // a host buffer or a (simulated, in-process) device buffer
    copies = true;
  }
  return copies ? need + staging_bytes : need;
}

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

}  // namespace

class Loader {
 public:
  Loader(TensorTable table, const LoadOptions& options) : options_(options) { model_.table_ = std::move(table); }

  Result<LoadedModel> run() {
    auto start = Clock::now();
    model_.report_.memory_before = read_process_memory();
    model_.report_.time.parse_ms = options_.parse_ms;
    auto devices = make_devices(options_.devices);
    if (!devices) return devices.error();
    model_.device_objects_ = std::move(devices.value());
    model_.devices_ = device_caps_of(model_.device_objects_);
    if (Status s = open_files(); !s) return s.error();

    auto t = Clock::now();
    PlanOptions plan_options = options_.plan;
    auto plan = make_plan(model_.table_, model_.devices_, plan_options);
    if (!plan) return plan.error();
    model_.report_.time.plan_ms = ms_since(t);
    for (const std::string& rule : plan->unused_rules)
      options_.log.warn(fmt::format("{} matches no tensor of this model: it does nothing", rule));
    if (Status s = check_memory_limit(*plan); !s) return s.error();

    t = Clock::now();
    if (map_files(*plan, plan_options)) {  // some mapping failed: plan again without it
      plan = make_plan(model_.table_, model_.devices_, plan_options);
      if (!plan) return plan.error();
    }
    model_.report_.time.map_ms = ms_since(t);

    if (Status s = place_tensors(*plan); !s) return s.error();
    if (Status s = apply_page_cache_hints(); !s) return s.error();
    if (Status s = copy_and_convert(*plan); !s) return s.error();
    if (options_.mlock) pin_memory();
    finish_report(*plan, start);
    return std::move(model_);
  }

 private:
  Status open_files() {
    for (const FileInfo& info : model_.table_.files) {
      if (info.opened) {  // opened by the parser: no second open
        // Still the file that was parsed? (truncated, rewritten, replaced or
        // removed since, it may hold other bytes at the parsed offsets)
        if (Status s = info.opened->check_unchanged(); !s) {
          Error e = s.error();
          e.message = "file changed since it was parsed: " + e.message;
          return e;
        }
        model_.files_.push_back(info.opened);
        if (options_.lock_files)
          if (Status s = lock(*model_.files_.back()); !s) return s;
        continue;
      }
      auto file = File::open(info.path);
      if (!file) return file.error();
      if (file->size() != info.size)
        return Error{info.path, {}, {},
                     fmt::format("file changed since it was parsed (size {} then, {} now)", info.size, file->size()),
                     ErrorCode::kChangedOnDisk};
      // Same size is not enough: a file saved over (new inode) or rewritten
      // in place (new mtime) may hold other bytes at the parsed offsets.
      if (info.identity.size != 0 && file->identity() != info.identity)
        return Error{info.path, {}, {},
                     "file changed since it was parsed (replaced or modified: inode or mtime differs); open it again",
                     ErrorCode::kChangedOnDisk};
      model_.files_.push_back(std::make_shared<const File>(std::move(file.value())));
      if (options_.lock_files)
        if (Status s = lock(*model_.files_.back()); !s) return s;
    }
    model_.mappings_.resize(model_.files_.size());
    return {};
  }

  Status lock(const File& file) {
    auto held = lock_file(file);
    if (!held) return held.error();
    model_.locks_.push_back(held->kind);
    LoadReport& r = model_.report_;
    r.file_locks += fmt::format("{}{}", r.file_locks.empty() ? "" : ",", file_lock_name(held->kind));
    if (held->kind == FileLockKind::kLease)
      options_.log.info(fmt::format("--lock: read lease on '{}'", file.path()));
    else
      options_.log.warn(fmt::format("--lock: {} for '{}'; holding a shared flock instead, which holds off only "
                                    "writers that flock",
                                    held->why_not_lease, file.path()));
    return {};
  }

  // Pins mapped files (pages locked as they are read) and host copies.
  void pin_memory() {
    LoadReport& r = model_.report_;
    auto refused = [&](const Error& e) {
      options_.log.warn(fmt::format("--mlock: {}; that memory stays unpinned", e.to_string()));
      if (r.mlock_error.empty()) r.mlock_error = e.to_string();
    };
    for (const auto& m : model_.mappings_) {
      if (!m) continue;
      if (Status s = m->lock_in_memory(); !s) refused(s.error());
      else r.mlocked_bytes += m->size();
    }
    for (size_t i = 0; i < model_.tensors_.size(); ++i) {
      const Tensor& t = model_.tensors_[i];
      if (t.placement == Placement::kMap || t.on_device || t.nbytes == 0) continue;
      if (::mlock(t.host_data, t.nbytes) != 0) {
        refused(Error{model_.table_.files[t.file].path, t.name, {},
                      "mlock of the copy failed: " + mlock_error_text(errno)});
        break;  // the rest would be refused alike: one warning
      }
      model_.pinned_copies_.emplace_back(t.host_data, t.nbytes);
      r.mlocked_bytes += t.nbytes;
    }
  }

  // Maps the files the plan wants mapped. Returns true when a mapping failed
  // (its reason recorded in `plan_options.unmappable`), so the plan must be redone.
  bool map_files(const LoadPlan& plan, PlanOptions& plan_options) {
    bool failed = false;
    for (size_t f = 0; f < model_.files_.size(); ++f) {
      if (!plan.map_file[f]) continue;
      const std::string& path = model_.files_[f]->path();
      auto m = MappedFile::map(model_.files_[f]);
      if (!m) {
        options_.log.warn(fmt::format("cannot map '{}': {}; reading it instead", path, m.error().message));
        plan_options.unmappable.resize(model_.files_.size());
        plan_options.unmappable[f] = m.error().message;
        failed = true;
        continue;
      }
      options_.log.info(fmt::format("using mmap for '{}'", path));
      model_.mappings_[f] = std::make_unique<MappedFile>(std::move(m.value()));
    }
    return failed;
  }

  Status check_memory_limit(const LoadPlan& plan) const {
    if (options_.max_memory_bytes == 0) return {};
    uint64_t need = anon_bytes_of(plan, options_.staging_bytes);
    uint64_t anon_now = read_process_memory().anon_kib * 1024;
    if (anon_now + need <= options_.max_memory_bytes) return {};
    const std::string& path = model_.table_.files.empty() ? std::string() : model_.table_.files[0].path;
    return Error{path, {}, {},
                 fmt::format("this load needs about {:.1f} MiB of anonymous memory (copies, device buffers, staging) "
                             "on top of the {:.1f} MiB in use, over the {:.1f} MiB allowed (--max-memory); mapped "
                             "tensors need none: load with mmap, or a smaller --staging-mb",
                             need / 1048576.0, anon_now / 1048576.0, options_.max_memory_bytes / 1048576.0),
                 ErrorCode::kOutOfMemory};
  }

  Status apply_page_cache_hints() {
    HintInputs in;
    in.table = &model_.table_;
    in.mappings = &model_.mappings_;
    in.files = &model_.files_;
    for (size_t i = 0; i < model_.tensors_.size(); ++i)
      if (model_.tensors_[i].placement == Placement::kMap) in.mapped_tensors.push_back(i);
    // Use order is file order: the order compute and engines walk a model.
    std::sort(in.mapped_tensors.begin(), in.mapped_tensors.end(), [&](size_t a, size_t b) {
      const TensorInfo &x = model_.table_.tensors[a], &y = model_.table_.tensors[b];
      return x.file != y.file ? x.file < y.file : x.offset < y.offset;
    });
    in.hints = options_.hints;
    in.prefetch = options_.prefetch;
    in.prefetch_workers = options_.prefetch_workers;
    in.log = options_.log;
    auto t = Clock::now();
    auto outcome = apply_hints(std::move(in));
    if (!outcome) return outcome.error();
    LoadReport& r = model_.report_;
    r.hints_requested = options_.hints.to_string();
    r.hints_applied = outcome->applied;
    r.residency_before = outcome->residency_before;
    r.prefetch_mode = prefetch_mode_name(options_.prefetch);
    r.time.hints_ms = ms_since(t);
    model_.prefetcher_ = std::move(outcome->prefetcher);
    model_.prefetch_span_ = std::move(outcome->span_of_tensor);
    model_.evict_on_release_ = outcome->evict_on_release;
    options_.log.info(fmt::format("page cache hints: {}", r.hints_applied));
    return {};
  }

  Status place_tensors(const LoadPlan& plan) {
    const auto& table = model_.table_;
    model_.tensors_.reserve(table.tensors.size());
    for (size_t i = 0; i < table.tensors.size(); ++i) {
      const TensorInfo& src = table.tensors[i];
      const TensorPlan& p = plan.tensors[i];
      Tensor t;
      t.name = src.qualified_name();
      t.dtype = p.dtype;
      t.shape = src.shape;
      t.nbytes = p.nbytes;
      t.device = p.device;
      t.placement = p.placement;
      t.host_resident = p.host_resident;
      t.reason = p.reason;
      t.file = src.file;
      t.file_offset = src.offset;
      const DeviceCaps& caps = model_.devices_[p.device];
      if (p.placement == Placement::kMap) {
        t.host_data = model_.mappings_[src.file]->data() + src.offset;
      } else {
        // A device that reads host memory, or an offloaded tensor, gets a host
        // copy (the cpu device's memory); any other device its own buffer.
        const bool host = caps.reads_host_memory || p.host_resident;
        const uint32_t owner = host ? 0 : p.device;
        auto buffer = model_.device_objects_[owner]->allocate(p.nbytes, caps.required_alignment(p.dtype));
        if (!buffer) {
          Error e = with_code(buffer.error(), ErrorCode::kDevice);
          e.file = table.files[src.file].path;
          e.tensor = src.name;
          e.offset = src.offset;
          e.message = fmt::format("allocating {} bytes on device '{}': {}", p.nbytes, model_.devices_[owner].name,
                                  e.message);
          return e;
        }
        model_.buffers_.emplace_back(owner, buffer.value());
        t.host_data = buffer->host_ptr;  // non-null when host-writable: the loader writes it directly
        if (host) {
          model_.report_.host_copy_bytes += p.nbytes;
        } else {
          t.on_device = true;
          t.device_buffer = buffer.value();
          model_.report_.device_bytes += p.nbytes;
        }
      }
      model_.tensors_.push_back(std::move(t));
      model_.by_name_.emplace(model_.tensors_.back().name, i);
    }
    return {};
  }

  // Splits every non-mapped tensor into chunks that fit one staging slot in
  // both their source and their target dtype.
  std::vector<Chunk> make_chunks(uint64_t slot_bytes) const {
    std::vector<Chunk> chunks;
    const auto& table = model_.table_;
    for (size_t i = 0; i < table.tensors.size(); ++i) {
      const Tensor& t = model_.tensors_[i];
      if (t.placement == Placement::kMap || t.nbytes == 0) continue;
      const TensorInfo& src = table.tensors[i];
      const DTypeInfo& s = dtype_info(src.dtype);
      const DTypeInfo& d = dtype_info(t.dtype);
      if (!src.plain_source()) {  // PyTorch view or compressed entry: one whole-tensor chunk, see run_chunk
        chunks.push_back({i, 0, src.nbytes, 0, src.nbytes / s.block_bytes});
        continue;
      }
      // Whole source blocks per chunk; a block converts to block_elems target elements.
      uint64_t src_block = s.block_bytes;
      uint64_t dst_block = t.dtype == src.dtype ? s.block_bytes : s.block_elems / d.block_elems * d.block_bytes;
      uint64_t blocks_per_chunk = std::max<uint64_t>(1, slot_bytes / std::max(src_block, dst_block));
      uint64_t n_blocks = src.nbytes / src_block;
      for (uint64_t b = 0; b < n_blocks; b += blocks_per_chunk) {
        uint64_t nb = std::min(blocks_per_chunk, n_blocks - b);
        chunks.push_back({i, b * src_block, nb * src_block, b * dst_block, nb * s.block_elems});
      }
    }
    return chunks;
  }

  Status copy_and_convert(const LoadPlan& plan) {
    // The budget is a hard limit (never below two pages, the least one
    // converting upload needs), whatever the worker count.
    constexpr uint64_t kPage = 4096;
    const uint64_t budget = std::max<uint64_t>(options_.staging_bytes, 2 * kPage);
    const uint64_t max_slots = budget / kPage;
    // A converting upload holds a source and a target slot at once, and must
    // never wait on a slot no one will free: with more slots than workers,
    // some worker can always finish. So a budget too small to give every
    // worker its slots runs fewer workers rather than growing.
    unsigned threads = static_cast<unsigned>(std::clamp<uint64_t>(options_.threads, 1, max_slots - 1));
    uint64_t slots = std::min<uint64_t>(std::max<uint64_t>(2ull * threads + 2, 4), max_slots);
    uint64_t slot_bytes = budget / slots / kPage * kPage;  // >= kPage as slots <= max_slots
    StagingPool pool(budget, slot_bytes, staging_memory());

    std::vector<bool> wanted(model_.files_.size(), false);
    for (size_t i = 0; i < model_.tensors_.size(); ++i)
      if (plan.tensors[i].placement != Placement::kMap) wanted[model_.table_.tensors[i].file] = true;
    IoMode io = options_.io;
    if (io == IoMode::kDirect && 4 * 2 * 4096ull > pool.slot_bytes()) {
      options_.log.warn(fmt::format("--io direct needs staging slots of at least 32 KiB ({} here); reading buffered",
                                    pool.slot_bytes()));
      io = IoMode::kRead;
    }
    auto reader = std::make_unique<TensorSource>(model_.table_, model_.files_, io, options_.log, wanted);
    if (reader->bounce_overhead() * 2 > pool.slot_bytes()) {
      options_.log.warn(fmt::format("O_DIRECT alignment of {} bytes does not fit staging slots of {}; reading buffered",
                                    reader->bounce_overhead() / 2, pool.slot_bytes()));
      reader = std::make_unique<TensorSource>(model_.table_, model_.files_, IoMode::kRead, options_.log, wanted);
    }
    CacheWindow window(io == IoMode::kDirect ? 0 : options_.cache_window_bytes);
    model_.report_.io_mode = io_mode_name(reader->mode());
    model_.report_.cache_window_bytes = options_.cache_window_bytes;
    std::vector<Chunk> chunks = make_chunks(pool.slot_bytes() - reader->bounce_overhead());
    model_.report_.threads = threads;
    model_.report_.staging_budget_bytes = pool.budget_bytes();

    uint64_t total = 0;
    for (const auto& c : chunks) total += c.src_len;
    std::atomic<size_t> next{0};
    std::atomic<uint64_t> done_bytes{0};
    std::mutex err_mu;
    std::optional<Error> first_error;
    std::atomic<bool> failed{false};
    auto fail = [&](Error e) {
      std::lock_guard lock(err_mu);
      if (!first_error) first_error = std::move(e);
      failed = true;
    };

    const size_t n_workers = std::min<size_t>(threads, std::max<size_t>(chunks.size(), 1));
    size_t workers_done = 0;  // guarded by err_mu
    std::condition_variable all_done;
    std::vector<TensorSource::Worker> contexts;
    for (size_t w = 0; w < n_workers; ++w) contexts.push_back(reader->make_worker());
    auto work = [&](TensorSource::Worker& ctx) {
      size_t k = 0;
      try {
        for (; !failed && (k = next.fetch_add(1)) < chunks.size();) {
          if (Status s = run_chunk(chunks[k], pool, *reader, ctx); !s) fail(s.error());
          const TensorInfo& src = model_.table_.tensors[chunks[k].tensor];
          window.consumed(*model_.files_[src.file], src.offset + chunks[k].src_off, chunks[k].src_len);
          done_bytes += chunks[k].src_len;
        }
      } catch (const std::bad_alloc&) {
        const TensorInfo& src = model_.table_.tensors[chunks[std::min(k, chunks.size() - 1)].tensor];
        fail(Error{model_.table_.files[src.file].path, src.name, src.offset,
                   "out of memory in the copy path (converting or staging this tensor)"});
      }
      std::lock_guard lock(err_mu);
      ++workers_done;
      all_done.notify_all();
    };
    std::vector<std::thread> workers;
    for (size_t w = 0; w < n_workers; ++w) workers.emplace_back(work, std::ref(contexts[w]));
    if (options_.progress) {
      // Report about every 100 ms, but return as soon as the workers are
      // done: a small load must not wait out a polling period.
      std::unique_lock lock(err_mu);
      while (!all_done.wait_for(lock, std::chrono::milliseconds(100), [&] { return workers_done == workers.size(); })) {
        lock.unlock();
        options_.progress(done_bytes.load(), total);
        lock.lock();
      }
    }
    for (auto& w : workers) w.join();
    // Every upload finishes (or fails) before the model is handed out.
    std::vector<bool> used(model_.device_objects_.size(), false);
    for (const auto& [device, buffer] : model_.buffers_) used[device] = true;
    for (size_t d = 0; d < used.size(); ++d)
      if (used[d])
        if (Status s = model_.device_objects_[d]->synchronize(); !s)
          fail(Error{{}, {}, {}, fmt::format("device '{}': {}", model_.devices_[d].name, s.error().to_string()),
                     ErrorCode::kDevice});
    if (auto e = uploads_.error()) fail(*e);
    window.flush();
    model_.report_.cache_dropped_bytes = window.dropped_bytes();
    if (auto e = window.first_error())
      options_.log.warn(fmt::format("cache window: could not drop consumed ranges ({}); the cache may hold more",
                                    e->to_string()));
    if (options_.progress) options_.progress(done_bytes.load(), total);
    uint64_t read_ns = 0, convert_ns = 0;
    for (const auto& ctx : contexts) {
      read_ns += ctx.read_ns();
      convert_ns += ctx.convert_ns();
    }
    model_.report_.time.read_ms = static_cast<double>(read_ns) / 1e6;
    model_.report_.time.convert_ms = static_cast<double>(convert_ns) / 1e6;
    model_.report_.staging_peak_bytes = pool.peak_bytes();
    if (pool.device_slots())
      options_.log.info(fmt::format("staging: {} of the slots are the device's own staging memory", pool.device_slots()));
    model_.report_.time.upload_ms = uploads_.ms();
    if (first_error) return *first_error;
    return {};
  }

  // Staging slots from the first device this load uploads to, when it
  // offers memory it uploads from fastest (pinned host memory for a GPU):
  // reads land there and go to the device without another copy.
  StagingPool::SlotMemory staging_memory() {
    for (const auto& [device, buffer] : model_.buffers_) {
      if (device == 0 || buffer.host_ptr) continue;  // host copies need no staging memory of a device's
      Device* d = model_.device_objects_[device].get();
      options_.log.debug(fmt::format("staging slots: asking device '{}' for its staging memory", d->caps().name));
      return {[d](uint64_t n) { return d->allocate_staging(n); }, [d](std::byte* p, uint64_t n) { d->free_staging(p, n); }};
    }
    return {};
  }

  Status run_chunk(const Chunk& c, StagingPool& pool, const TensorSource& source, TensorSource::Worker& ctx) {
    const TensorInfo& src = model_.table_.tensors[c.tensor];
    const Tensor& t = model_.tensors_[c.tensor];
    const File& file = *model_.files_[src.file];
    const uint64_t src_block = dtype_info(src.dtype).block_bytes;
    const uint64_t first_block = c.src_off / src_block, n_blocks = c.src_len / src_block;
    const uint64_t out_len = c.elems / dtype_info(t.dtype).block_elems * dtype_info(t.dtype).block_bytes;
    // A PyTorch view or compressed zip entry (one whole-tensor chunk) is
    // gathered or inflated whole, outside the staging pool.
    if (!src.plain_source()) {
      if (t.host_data) return source.read(ctx, c.tensor, t.dtype, 0, n_blocks, {const_cast<std::byte*>(t.host_data), t.nbytes});
      auto held = std::make_shared<std::vector<std::byte>>(t.nbytes);
      if (Status s = source.read(ctx, c.tensor, t.dtype, 0, n_blocks, *held); !s) return s;
      model_.device(t.device).upload(t.device_buffer, 0, held->data(), held->size(),
                                     uploads_.started(held, file.path(), src.name));
      return {};
    }
    const auto slot_span = [&](StagingPool::Slot& slot) { return std::span<std::byte>(slot.data(), pool.slot_bytes()); };
    if (t.host_data) {  // host memory, or a device buffer the host may write
      std::span<std::byte> dst(const_cast<std::byte*>(t.host_data) + c.dst_off, out_len);
      if (t.dtype == src.dtype && !source.bounces(src.file))  // straight into place: no staging needed
        return source.read(ctx, c.tensor, t.dtype, first_block, n_blocks, dst);
      StagingPool::Slot in = pool.acquire();
      return source.read(ctx, c.tensor, t.dtype, first_block, n_blocks, dst, slot_span(in));
    }
    // A device buffer the host cannot write: stage, convert if needed, upload.
    Device& device = model_.device(t.device);
    auto in = std::make_shared<StagingPool::Slot>(pool.acquire());
    if (t.dtype == src.dtype || device.converts(src.dtype, t.dtype)) {  // upload the file's bytes
      auto bytes = source.read_source(ctx, c.tensor, first_block, n_blocks, slot_span(*in));
      if (!bytes) return bytes.error();
      if (t.dtype == src.dtype)
        device.upload(t.device_buffer, c.dst_off, *bytes, c.src_len, uploads_.started(in, file.path(), src.name));
      else  // the device converts
        device.upload_converted(t.device_buffer, c.dst_off, *bytes, c.src_len, src.dtype, t.dtype, c.elems,
                                uploads_.started(in, file.path(), src.name));
      return {};
    }
    auto out = std::make_shared<StagingPool::Slot>(pool.acquire());
    if (Status s = source.read(ctx, c.tensor, t.dtype, first_block, n_blocks, {out->data(), out_len}, slot_span(*in)); !s)
      return s;
    in.reset();
    device.upload(t.device_buffer, c.dst_off, out->data(), out_len, uploads_.started(out, file.path(), src.name));
    return {};
  }

  void finish_report(const LoadPlan& plan, Clock::time_point start) {
    LoadReport& r = model_.report_;
    r.tensors = model_.tensors_.size();
    for (size_t i = 0; i < model_.tensors_.size(); ++i) {
      const Tensor& t = model_.tensors_[i];
      r.bytes_total += model_.table_.tensors[i].nbytes;
      r.tensors_mapped += t.placement == Placement::kMap;
      r.tensors_copied += t.placement == Placement::kCopy;
      r.tensors_converted += t.placement == Placement::kConvert;
      r.tensors_host_resident += t.host_resident;
    }
    r.bytes_mapped = plan.bytes_mapped;
    r.bytes_copied = plan.bytes_copied;
    r.bytes_converted = plan.bytes_converted;
    r.time.total_ms = ms_since(start);
    r.memory = read_process_memory();
    for (const auto& f : model_.files_) {
      r.file_bytes += f->size();
      // Sampled: an exact walk of a 30 GB model's pages would cost the load a second.
      if (auto res = page_cache_residency(*f, false)) r.page_cache_bytes += res->resident_bytes;
    }
  }

  LoadOptions options_;
  LoadedModel model_;
  UploadTracker uploads_;
};

Result<uint64_t> anon_bytes_needed(const TensorTable& table, const LoadOptions& options) {
  auto devices = make_devices(options.devices);
  if (!devices) return devices.error();
  auto plan = make_plan(table, device_caps_of(*devices), options.plan);
  if (!plan) return plan.error();
  return anon_bytes_of(*plan, options.staging_bytes);
}

Result<LoadedModel> load_model(TensorTable table, const LoadOptions& options) {
  std::string first_file = table.files.empty() ? std::string() : table.files[0].path;
  try {
    return Loader(std::move(table), options).run();
  } catch (const std::bad_alloc&) {
    return Error{first_file, {}, {}, "out of memory while loading (building the plan, report or buffers)"};
  }
}

}  // namespace wm
