// wm::Device implemented outside the library, through the public header
// alone, as an engine would: a model whose device rules send a component to
// it gets every byte there through the staging pipeline, within the staging
// budget, equal to the file; conversions happen on the device when it says
// it converts; failures name the tensor; release frees every buffer.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "weightmap/weightmap.hpp"

// Test inputs only: files written by the project's writer, read back by the
// test itself (read_file) to compare.
#include "format/safetensors_writer.h"
#include "io/fault_injection.h"  // sys::native_aligned_alloc: std::aligned_alloc is not in every C runtime
#include "test_support.h"

namespace {

using wm::test::pattern;
using wm::test::read_file;

// An engine's accelerator stand-in: its own memory, uploads completed later
// by its own thread (so several are in flight), optional F16 -> F32
// conversion on the device. Thread-safe as the interface asks.
class EngineDevice final : public wm::Device {
 public:
  explicit EngineDevice(bool converts, std::string name = "engine") : converts_(converts) {
    caps_.name = std::move(name);
    caps_.reads_host_memory = false;
    caps_.alignment = 128;
    thread_ = std::thread([this] { serve(); });
  }
  ~EngineDevice() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    for (auto& [p, n] : live_) wm::sys::aligned_free(p);
  }
  const wm::DeviceCaps& caps() const override { return caps_; }

  wm::Result<wm::DeviceBuffer> allocate(uint64_t nbytes, uint32_t alignment) override {
    if (fail_allocate_) return wm::Error{{}, {}, {}, "engine: no memory left", wm::ErrorCode::kOutOfMemory};
    uint64_t align = std::max<uint64_t>(alignment, 128);
    void* p = wm::sys::native_aligned_alloc(align, std::max<uint64_t>(align, (nbytes + align - 1) / align * align));
    std::lock_guard lock(mu_);
    live_[p] = nbytes;
    ++allocations_;
    return wm::DeviceBuffer{p, allocations_, nullptr, nbytes};
  }
  void free(const wm::DeviceBuffer& b) override {
    std::lock_guard lock(mu_);
    if (live_.erase(b.handle)) wm::sys::aligned_free(b.handle);
  }
  void upload(const wm::DeviceBuffer& b, uint64_t offset, const std::byte* src, uint64_t n,
              wm::UploadDone done) override {
    enqueue({static_cast<std::byte*>(b.handle) + offset, src, n, false, 0, std::move(done)});
  }
  wm::Status synchronize() override {
    std::unique_lock lock(mu_);
    idle_.wait(lock, [&] { return queue_.empty() && !busy_; });
    return {};
  }
  wm::Status download(const wm::DeviceBuffer& b, uint64_t offset, std::byte* dst, uint64_t n) override {
    if (n) std::memcpy(dst, static_cast<const std::byte*>(b.handle) + offset, n);
    return {};
  }
  bool converts(wm::DType from, wm::DType to) const override {
    return converts_ && from == wm::DType::F16 && to == wm::DType::F32;
  }
  void upload_converted(const wm::DeviceBuffer& b, uint64_t dst_offset, const std::byte* src, uint64_t n,
                        wm::DType, wm::DType, uint64_t elements, wm::UploadDone done) override {
    EXPECT_EQ(n, elements * 2);
    converted_elements_ += elements;
    enqueue({static_cast<std::byte*>(b.handle) + dst_offset, src, n, true, elements, std::move(done)});
  }

  // Staging memory the engine offers (pinned memory, for a GPU): page
  // aligned blocks it can recognise in upload() sources.
  std::byte* allocate_staging(uint64_t n) override {
    if (!offer_staging_) return nullptr;
    auto* p = static_cast<std::byte*>(wm::sys::native_aligned_alloc(4096, n));
    std::lock_guard lock(mu_);
    staging_[p] = n;
    staging_bytes_ += n;
    staging_peak_ = std::max(staging_peak_.load(), staging_bytes_);
    return p;
  }
  void free_staging(std::byte* p, uint64_t) override {
    std::lock_guard lock(mu_);
    staging_bytes_ -= staging_[p];
    staging_.erase(p);
    wm::sys::aligned_free(p);
  }
  // Host memory the engine reads in place (a GPU's cudaHostRegister):
  // what was registered and not yet unregistered.
  wm::Status register_host(const std::byte* p, uint64_t n) override {
    if (!register_host_) return wm::Device::register_host(p, n);
    if (refuse_host_) return wm::Error{{}, {}, {}, "engine: pinning refused", wm::ErrorCode::kDevice};
    std::lock_guard lock(mu_);
    host_ranges_[p] = n;
    return {};
  }
  void unregister_host(const std::byte* p, uint64_t n) override {
    std::lock_guard lock(mu_);
    EXPECT_EQ(host_ranges_[p], n);
    host_ranges_.erase(p);
  }
  std::map<const std::byte*, uint64_t> host_ranges() {
    std::lock_guard lock(mu_);
    return host_ranges_;
  }
  bool register_host_ = false, refuse_host_ = false;
  std::map<const std::byte*, uint64_t> host_ranges_;  // guarded by mu_
  bool offer_staging_ = false;
  uint64_t staging_bytes_ = 0;  // guarded by mu_
  std::atomic<uint64_t> staging_peak_{0};
  std::atomic<uint64_t> uploads_from_staging_{0}, uploads_total_{0};
  size_t staging_blocks() {
    std::lock_guard lock(mu_);
    return staging_.size();
  }

  uint64_t max_in_flight() const { return max_in_flight_; }
  uint64_t uploaded() const { return uploaded_; }
  uint64_t converted_elements() const { return converted_elements_; }
  size_t live_buffers() {
    std::lock_guard lock(mu_);
    return live_.size();
  }
  bool fail_allocate_ = false;
  bool fail_uploads_ = false;

 private:
  struct Job {
    std::byte* dst;
    const std::byte* src;
    uint64_t n;
    bool convert;
    uint64_t elements;
    wm::UploadDone done;
  };
  void enqueue(Job job) {
    std::lock_guard lock(mu_);
    ++uploads_total_;
    for (const auto& [p, n] : staging_)
      if (job.src >= p && job.src + job.n <= p + n) ++uploads_from_staging_;
    in_flight_ += job.n;
    max_in_flight_ = std::max<uint64_t>(max_in_flight_, in_flight_);
    queue_.push_back(std::move(job));
    cv_.notify_one();
  }
  void serve() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      Job job = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::microseconds(300));  // a PCIe transfer takes time
      if (job.convert) {
        for (uint64_t i = 0; i < job.elements; ++i) {
          uint16_t h;
          std::memcpy(&h, job.src + 2 * i, 2);
          float f = static_cast<float>(wm::test::half_value(h));
          std::memcpy(job.dst + 4 * i, &f, 4);
        }
      } else if (job.n) {
        std::memcpy(job.dst, job.src, job.n);
      }
      uploaded_ += job.n;
      wm::Status result;
      if (fail_uploads_) result = wm::Error{{}, {}, {}, "engine: DMA error", wm::ErrorCode::kDevice};
      {
        std::lock_guard done_lock(mu_);  // the source is no longer read from here on
        in_flight_ -= job.n;
      }
      job.done(result);
      lock.lock();
      busy_ = false;
      if (queue_.empty()) idle_.notify_all();
    }
  }

  wm::DeviceCaps caps_;
  bool converts_;
  std::mutex mu_;
  std::condition_variable cv_, idle_;
  std::deque<Job> queue_;
  std::map<void*, uint64_t> live_;
  std::map<std::byte*, uint64_t> staging_;
  uint64_t allocations_ = 0;
  uint64_t in_flight_ = 0;
  std::atomic<uint64_t> max_in_flight_{0}, uploaded_{0}, converted_elements_{0};
  bool busy_ = false, stop_ = false;
  std::thread thread_;
};

// A diffusers-style folder: text_encoder/ (F32) and unet/ (F32 3 MiB, F16 1 MiB).
struct Folder {
  wm::test::TempDir dir;
  std::map<std::string, std::vector<std::byte>> bytes;  // qualified name -> bytes written
  Folder() {
    auto write = [&](const std::string& component, std::vector<std::tuple<std::string, wm::DType, std::vector<uint64_t>>> ts) {
      std::filesystem::create_directories(dir.file(component));
      wm::SafetensorsWriter w;
      uint32_t seed = 1;
      for (auto& [name, dtype, shape] : ts) {
        uint64_t n = wm::dtype_block_bytes(dtype);
        for (uint64_t d : shape) n *= d;
        std::vector<std::byte> b = pattern(n, seed++);
        if (dtype == wm::DType::F16)  // finite halves only: clear the top exponent bit
          for (size_t i = 1; i < b.size(); i += 2) b[i] &= std::byte{0xBF};
        bytes[component + "." + name] = b;
        w.add_tensor(name, dtype, shape, wm::TensorData::bytes(b));
      }
      EXPECT_TRUE(w.write(dir.file(component + "/model.safetensors")).ok());
    };
    write("text_encoder", {{"embed.weight", wm::DType::F32, {64, 128}}});
    write("unet", {{"conv.weight", wm::DType::F32, {768, 1024}}, {"attn.weight", wm::DType::F16, {512, 1024}}});
  }
};

wm::Options engine_options(const std::shared_ptr<EngineDevice>& dev) {
  wm::Options o;
  o.devices = {dev};
  o.device_rules = "unet.*=engine";
  o.staging_bytes = 1 << 20;
  o.threads = 2;
  return o;
}

std::vector<std::byte> on_device(const wm::Model& m, const wm::Tensor& t) {
  std::vector<std::byte> out(t.nbytes);
  EXPECT_TRUE(m.device(t.device).download(t.device_buffer, 0, out.data(), out.size()).ok());
  return out;
}

TEST(DeviceInterface, AComponentGoesToTheEnginesDeviceThroughBoundedStaging) {
  Folder f;
  auto dev = std::make_shared<EngineDevice>(false);
  auto model = wm::open(f.dir.path(), engine_options(dev));
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  ASSERT_EQ(model->devices().size(), 3u);
  EXPECT_EQ(model->devices()[2].name, "engine");
  EXPECT_EQ(&model->device(2), dev.get());

  const wm::Tensor* embed = model->find("text_encoder.embed.weight");
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(embed->placement, wm::Placement::kMap);  // the cpu reads the mapping in place
  EXPECT_EQ(std::memcmp(embed->host_data, f.bytes.at(embed->name).data(), embed->nbytes), 0);

  for (const char* name : {"unet.conv.weight", "unet.attn.weight"}) {
    const wm::Tensor* t = model->find(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_TRUE(t->on_device) << name;
    EXPECT_EQ(t->host_data, nullptr) << name;
    EXPECT_EQ(t->device, 2u) << name;
    EXPECT_EQ(t->placement, wm::Placement::kCopy) << name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t->device_buffer.handle) % 128, 0u) << name;
    EXPECT_EQ(on_device(*model, *t), f.bytes.at(name)) << name;
    // ... and equal to the file's bytes where the report says they came from.
    auto file = read_file(model->file_path(t->file));
    ASSERT_LE(t->file_offset + t->nbytes, file.size());
    EXPECT_EQ(std::memcmp(file.data() + t->file_offset, f.bytes.at(name).data(), t->nbytes), 0) << name;
  }
  const wm::LoadReport r = model->report();
  EXPECT_EQ(dev->uploaded(), 768u * 1024 * 4 + 512u * 1024 * 2);
  EXPECT_LE(dev->max_in_flight(), r.staging_budget_bytes) << "uploads in flight held more than the staging budget";
  EXPECT_GT(dev->max_in_flight(), 0u);
  EXPECT_LE(r.staging_peak_bytes, r.staging_budget_bytes);
  EXPECT_EQ(r.device_bytes, 768u * 1024 * 4 + 512u * 1024 * 2);
  EXPECT_GT(r.time.upload_ms, 0.0);

  EXPECT_EQ(dev->live_buffers(), 2u);
  ASSERT_TRUE(model->release().ok());
  EXPECT_EQ(dev->live_buffers(), 0u) << "release() must free every buffer it allocated";
}

TEST(DeviceInterface, StagingComesFromTheDevicesOwnMemoryWhenItOffersSome) {
  Folder f;
  auto dev = std::make_shared<EngineDevice>(false);
  dev->offer_staging_ = true;
  auto model = wm::open(f.dir.path(), engine_options(dev));
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  EXPECT_GT(dev->uploads_total_.load(), 0u);
  EXPECT_EQ(dev->uploads_from_staging_.load(), dev->uploads_total_.load())
      << "every upload should read from the device's staging memory";
  EXPECT_GT(dev->staging_peak_.load(), 0u);
  EXPECT_LE(dev->staging_peak_.load(), model->report().staging_budget_bytes) << "staging memory past the budget";
  // The report counts what the device supplied: every slot was its memory.
  EXPECT_EQ(model->report().staging_device_bytes, dev->staging_peak_.load());
  EXPECT_EQ(dev->staging_blocks(), 0u) << "the load gives its staging memory back when it ends";
  const wm::Tensor* t = model->find("unet.conv.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(on_device(*model, *t), f.bytes.at("unet.conv.weight"));
  ASSERT_TRUE(model->release().ok());
}

TEST(DeviceInterface, ConversionRunsOnTheDeviceWhenItConvertsAndMatchesTheCpuPath) {
  Folder f;
  auto converting = std::make_shared<EngineDevice>(true);
  auto plain = std::make_shared<EngineDevice>(false);
  wm::Options a = engine_options(converting), b = engine_options(plain);
  a.type_rules = b.type_rules = "unet.attn.weight=F32";
  auto ma = wm::open(f.dir.path(), a);
  auto mb = wm::open(f.dir.path(), b);
  ASSERT_TRUE(ma.ok()) << ma.error().to_string();
  ASSERT_TRUE(mb.ok()) << mb.error().to_string();
  EXPECT_EQ(converting->converted_elements(), 512u * 1024);
  EXPECT_EQ(plain->converted_elements(), 0u);
  const wm::Tensor* ta = ma->find("unet.attn.weight");
  const wm::Tensor* tb = mb->find("unet.attn.weight");
  ASSERT_TRUE(ta && tb);
  EXPECT_EQ(ta->placement, wm::Placement::kConvert);
  EXPECT_EQ(ta->dtype, wm::DType::F32);
  auto got = on_device(*ma, *ta);
  EXPECT_EQ(got, on_device(*mb, *tb)) << "device conversion and CPU conversion differ";
  // Against the definition of IEEE half, independently of both.
  const auto& src = f.bytes.at("unet.attn.weight");
  for (size_t i = 0; i < 512u * 1024; i += 997) {
    uint16_t h;
    float v;
    std::memcpy(&h, src.data() + 2 * i, 2);
    std::memcpy(&v, got.data() + 4 * i, 4);
    EXPECT_EQ(static_cast<double>(v), wm::test::half_value(h)) << i;
  }
}

TEST(DeviceInterface, OffloadedTensorsAreOfferedToTheDeviceToReadInPlace) {
  Folder f;
  auto dev = std::make_shared<EngineDevice>(false);
  dev->register_host_ = true;
  wm::Options o = engine_options(dev);
  o.offload_to_cpu = true;
  auto model = wm::open(f.dir.path(), o);
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  const std::map<const std::byte*, uint64_t> ranges = dev->host_ranges();
  ASSERT_EQ(ranges.size(), 1u) << "one range for unet's one file";
  const auto [p, n] = *ranges.begin();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 4096, 0u);
  for (const char* name : {"unet.conv.weight", "unet.attn.weight"}) {
    const wm::Tensor* t = model->find(name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->placement, wm::Placement::kMap) << name;
    EXPECT_TRUE(t->host_resident) << name;
    EXPECT_GE(t->host_data, p) << name;
    EXPECT_LE(t->host_data + t->nbytes, p + n) << name;
    EXPECT_NE(t->reason.find("engine reads it in place"), std::string::npos) << t->reason;
  }
  EXPECT_EQ(model->find("text_encoder.embed.weight")->reason, "") << "the cpu's tensors are not offered";
  ASSERT_TRUE(model->release().ok());
  EXPECT_TRUE(dev->host_ranges().empty()) << "release unregisters before unmapping";
}

TEST(DeviceInterface, ARefusedRegistrationIsReportedNotFatal) {
  Folder f;
  auto dev = std::make_shared<EngineDevice>(false);
  dev->register_host_ = dev->refuse_host_ = true;
  wm::Options o = engine_options(dev);
  o.offload_to_cpu = true;
  auto model = wm::open(f.dir.path(), o);
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  const wm::Tensor* t = model->find("unet.conv.weight");
  EXPECT_TRUE(t->host_resident);
  EXPECT_NE(t->reason.find("engine cannot read it in place: engine: pinning refused"), std::string::npos) << t->reason;
}

TEST(DeviceInterface, FailuresNameTheTensorAndCarryACode) {
  Folder f;
  auto dev = std::make_shared<EngineDevice>(false);
  dev->fail_allocate_ = true;
  auto m = wm::open(f.dir.path(), engine_options(dev));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, wm::ErrorCode::kOutOfMemory);
  EXPECT_TRUE(m.error().tensor == "conv.weight" || m.error().tensor == "attn.weight") << m.error().to_string();
  EXPECT_NE(m.error().message.find("engine"), std::string::npos) << m.error().to_string();
  EXPECT_EQ(dev->live_buffers(), 0u);

  auto failing = std::make_shared<EngineDevice>(false);
  failing->fail_uploads_ = true;
  auto u = wm::open(f.dir.path(), engine_options(failing));
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().code, wm::ErrorCode::kDevice);
  EXPECT_NE(u.error().message.find("DMA error"), std::string::npos) << u.error().to_string();
  EXPECT_FALSE(u.error().tensor.empty()) << u.error().to_string();
  EXPECT_EQ(failing->live_buffers(), 0u) << "a failed load must leave nothing allocated";
}

TEST(DeviceInterface, DeviceNamesAndRulesAreChecked) {
  Folder f;
  wm::Options o;
  o.devices = {std::make_shared<EngineDevice>(false, "cpu")};
  auto clash = wm::open(f.dir.path(), o);
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().code, wm::ErrorCode::kInvalidArgument);

  wm::Options unknown;
  unknown.device_rules = "*=tpu";  // ("cuda" is known: tests/gpu_cuda_device_test.cc)
  auto u = wm::open(f.dir.path(), unknown);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().code, wm::ErrorCode::kInvalidArgument);
  EXPECT_NE(u.error().message.find("unknown device 'tpu'"), std::string::npos) << u.error().message;
  EXPECT_NE(u.error().message.find("cpu, sim"), std::string::npos) << u.error().message;
}

TEST(DeviceInterface, BuiltInDevicesAreAvailableToEngines) {
  auto cpu = wm::make_cpu_device();
  auto sim = wm::make_sim_device();
  EXPECT_TRUE(cpu->caps().reads_host_memory);
  EXPECT_FALSE(sim->caps().reads_host_memory);
  auto b = sim->allocate(1000, 64);
  ASSERT_TRUE(b.ok());
  std::vector<std::byte> src = pattern(1000, 9), back(1000);
  std::atomic<bool> done{false};
  sim->upload(*b, 0, src.data(), src.size(), [&](wm::Status s) { done = s.ok(); });
  ASSERT_TRUE(sim->synchronize().ok());
  EXPECT_TRUE(done.load());
  ASSERT_TRUE(sim->download(*b, 0, back.data(), back.size()).ok());
  EXPECT_EQ(back, src);
  sim->free(*b);
  auto h = cpu->allocate(100, 4096);
  ASSERT_TRUE(h.ok());
  EXPECT_NE(h->host_ptr, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(h->host_ptr) % 4096, 0u);
  cpu->free(*h);
}

}  // namespace
