// System-call failures users must see handled, injected through
// io/fault_injection.h: EINTR and short reads give exactly the file's bytes
// (File, O_DIRECT, io_uring, and whole copy-path loads checked by
// verify_model and against the bytes written here); EIO names the file, the
// tensor and an offset inside it; an unaligned short O_DIRECT read is an
// error, not wrong bytes; ENOSPC leaves the old file and no temporary; short
// and interrupted writes are completed; a failed allocation is "out of
// memory" naming the file and tensor.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "dtype/dtype.h"
#include "format/model_path.h"
#include "format/safetensors_writer.h"
#include "format/tensor_data.h"
#include "io/atomic_file.h"
#include "io/direct_file.h"
#include "io/fault_injection.h"
#include "io/file.h"
#include "io/mapped_file.h"
#include "io/prefetch.h"
#include "io/uring_reader.h"
#include "load/loader.h"
#include "verify/verify.h"
#include "test_support.h"

namespace wm {
namespace {

using test::TempDir;

// --- which descriptors an injector acts on -----------------------------------

// Reads: descriptors open on one file (any of them: File's, O_DIRECT's).
class SameFile {
 public:
  explicit SameFile(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }
  bool operator()(int fd) const {
    struct stat st {};
    return ::fstat(fd, &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_;
  }

 private:
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

// Writes: descriptors on files in one folder (the writer's temporary file
// has a name only it knows).
bool in_folder(int fd, const std::string& dir) {
  char link[4096];
  ssize_t n = ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), link, sizeof link - 1);
  if (n <= 0) return false;
  return std::string(link, static_cast<size_t>(n)).starts_with(dir + "/");
}

bool is_direct(int fd) { return (::fcntl(fd, F_GETFL) & O_DIRECT) != 0; }

// --- injectors ----------------------------------------------------------------

// EINTR on every other read of the file, and every other one short: 1..7
// bytes (`tiny_only`), else alternately 1..7 bytes or 1/8..7/8 of what was
// asked; on an O_DIRECT descriptor, shorts are whole multiples of `align`
// (the kernel's own short reads there end on a block boundary). The same for
// io_uring completions.
class ChoppyReads : public FaultInjector {
 public:
  ChoppyReads(const std::string& path, bool tiny_only, uint64_t align = 4096)
      : file_(path), tiny_only_(tiny_only), align_(align) {}

  std::optional<int64_t> pread(NativeHandle h, void* buf, size_t n, uint64_t offset) override {
    const int fd = static_cast<int>(h.value);
    if (!file_(fd)) return std::nullopt;
    uint64_t k = calls_++;
    if (k % 2 == 0) {
      ++eintr_;
      errno = EINTR;
      return -1;
    }
    return ::pread(fd, buf, shortened(fd, n, k / 2), offset);
  }

  int uring_read_result(NativeHandle h, uint64_t, size_t, int res) override {
    const int fd = static_cast<int>(h.value);
    if (!file_(fd) || res <= 0) return res;  // errors and end of file pass as they are
    uint64_t k = calls_++;
    if (k % 2 == 0) {
      ++eintr_;
      return -EINTR;  // the bytes the kernel did read must be read again
    }
    return static_cast<int>(shortened(fd, static_cast<size_t>(res), k / 2));
  }

  uint64_t eintr() const { return eintr_; }
  uint64_t shorts() const { return shorts_; }

 private:
  size_t shortened(int fd, size_t n, uint64_t j) {
    if (n == 0) return 0;
    size_t want;
    if (is_direct(fd)) want = n <= align_ ? n : std::min<size_t>(n, align_ * (1 + j % 3));
    else if (tiny_only_ || j % 2 == 0) want = std::min<size_t>(n, 1 + j % 7);
    else want = std::max<size_t>(1, n * (1 + j % 7) / 8);
    if (want < n) ++shorts_;
    return want;
  }

  SameFile file_;
  bool tiny_only_;
  uint64_t align_;
  std::atomic<uint64_t> calls_{0}, eintr_{0}, shorts_{0};
};

// A bad sector at byte `bad` of the file, as a disk shows it: a read that
// starts before it returns the bytes up to it (short), a read that starts at
// it fails with EIO. pread and io_uring alike. `bad` must be aligned for
// O_DIRECT readers.
class BadSector : public FaultInjector {
 public:
  BadSector(const std::string& path, uint64_t bad) : file_(path), bad_(bad) {}

  std::optional<int64_t> pread(NativeHandle h, void* buf, size_t n, uint64_t offset) override {
    const int fd = static_cast<int>(h.value);
    const auto off = static_cast<uint64_t>(offset);
    if (!file_(fd) || bad_ < off || bad_ >= off + n) return std::nullopt;
    ++hits_;
    if (off < bad_) return ::pread(fd, buf, bad_ - off, offset);
    errno = EIO;
    return -1;
  }

  int uring_read_result(NativeHandle h, uint64_t off, size_t n, int res) override {
    const int fd = static_cast<int>(h.value);
    if (!file_(fd) || res < 0 || bad_ < off || bad_ >= off + n) return res;
    ++hits_;
    if (off < bad_) return static_cast<int>(std::min<uint64_t>(static_cast<uint64_t>(res), bad_ - off));
    return -EIO;
  }

  uint64_t hits() const { return hits_; }

 private:
  SameFile file_;
  uint64_t bad_;
  std::atomic<uint64_t> hits_{0};
};

// Every read of the file on an O_DIRECT descriptor reports a bit over half of
// what the kernel read: a short read that ends mid-block.
class UnalignedDirectShorts : public FaultInjector {
 public:
  explicit UnalignedDirectShorts(const std::string& path) : file_(path) {}
  std::optional<int64_t> pread(NativeHandle h, void* buf, size_t n, uint64_t offset) override {
    const int fd = static_cast<int>(h.value);
    if (!file_(fd) || !is_direct(fd)) return std::nullopt;
    ssize_t r = ::pread(fd, buf, n, offset);
    if (r <= 2) return r;
    ++hits_;
    return r / 2 + 1;
  }
  uint64_t hits() const { return hits_; }

 private:
  SameFile file_;
  std::atomic<uint64_t> hits_{0};
};

// Writes to files in `dir`: fail with `fail_errno` (0: never), return EINTR
// on every other call (`eintr`), or write at most a varying 1..64 KiB (`shorten`).
class FaultyWrites : public FaultInjector {
 public:
  explicit FaultyWrites(std::string dir) : dir_(std::move(dir)) {}
  int fail_errno = 0;
  bool eintr = false;
  bool shorten = false;
  bool zero = false;  // write() returns 0: no progress and no error

  std::optional<int64_t> write(NativeHandle h, const void* buf, size_t n) override {
    const int fd = static_cast<int>(h.value);
    if (!in_folder(fd, dir_)) return std::nullopt;
    uint64_t k = calls_++;
    if (fail_errno != 0) {
      ++failed_;
      errno = fail_errno;
      return -1;
    }
    if (zero) {
      ++failed_;
      return 0;
    }
    if (eintr && k % 2 == 0) {
      ++eintr_;
      errno = EINTR;
      return -1;
    }
    size_t want = n;
    if (shorten) want = std::min<size_t>(n, 1 + (k * 7919) % 65536);
    if (want < n) ++shorts_;
    return ::write(fd, buf, want);
  }

  uint64_t failed() const { return failed_; }
  uint64_t eintr_count() const { return eintr_; }
  uint64_t shorts() const { return shorts_; }

 private:
  std::string dir_;
  std::atomic<uint64_t> calls_{0}, failed_{0}, eintr_{0}, shorts_{0};
};

// Fails allocations of [lo, hi) bytes.
class FailAlloc : public FaultInjector {
 public:
  FailAlloc(size_t lo, size_t hi) : lo_(lo), hi_(hi) {}
  bool fail_alloc(size_t bytes) override {
    if (bytes < lo_ || bytes >= hi_) return false;
    ++hits_;
    return true;
  }
  uint64_t hits() const { return hits_; }

 private:
  size_t lo_, hi_;
  std::atomic<uint64_t> hits_{0};
};

// --- fixtures -----------------------------------------------------------------

std::shared_ptr<const File> open_file(const std::string& path) {
  auto f = File::open(path);
  EXPECT_TRUE(f.ok()) << f.error().to_string();
  return f.ok() ? std::make_shared<const File>(std::move(f.value())) : nullptr;
}

struct AlignedBuffer {
  std::unique_ptr<std::byte, decltype(&std::free)> p{nullptr, &std::free};
  size_t size = 0;
  AlignedBuffer(size_t align, size_t n) : p(static_cast<std::byte*>(std::aligned_alloc(align, n)), &std::free), size(n) {}
  std::span<std::byte> span() { return {p.get(), size}; }
};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A safetensors file of a few tensors with odd sizes; "big" spans several
// staging chunks and many O_DIRECT blocks.
struct ModelFile {
  TempDir dir;
  std::string path = dir.file("model.safetensors");
  std::map<std::string, std::vector<std::byte>> bytes;  // per tensor, as written
  TensorTable table;

  ModelFile() {
    struct Spec {
      const char* name;
      DType dtype;
      std::vector<uint64_t> shape;
    };
    const std::vector<Spec> specs = {{"head", DType::F32, {5}},
                                     {"big", DType::F32, {250, 401}},
                                     {"mid", DType::F16, {4099}},
                                     {"tail", DType::F32, {2, 3}}};
    SafetensorsWriter w;
    uint32_t seed = 7;
    for (const auto& s : specs) {
      uint64_t n = dtype_info(s.dtype).block_bytes;
      for (uint64_t d : s.shape) n *= d;
      bytes[s.name] = test::pattern(n, seed++);
      w.add_tensor(s.name, s.dtype, s.shape, TensorData::bytes(bytes[s.name]));
    }
    Status st = w.write(path);
    EXPECT_TRUE(st.ok()) << st.error().to_string();
    auto t = open_model({path});
    EXPECT_TRUE(t.ok()) << t.error().to_string();
    if (t.ok()) table = std::move(t.value());
  }

  const TensorInfo& tensor(const std::string& name) const {
    for (const auto& t : table.tensors())
      if (t.name == name) return t;
    ADD_FAILURE() << "no tensor " << name;
    return table.tensors().front();
  }
};

LoadOptions copy_options(IoMode io) {
  LoadOptions o;
  o.plan.use_mmap = false;  // every tensor copied through the reader under test
  o.io = io;
  o.threads = 2;
  o.staging_bytes = 1 << 20;  // several chunks for "big"
  return o;
}

// Skips (returning a reason) where `io` cannot be had here, so that a test
// never passes by silently reading with pread instead. `align` gets the
// O_DIRECT alignment the loader will use.
std::string unavailable(IoMode io, const std::string& path, uint64_t* align) {
  if (io == IoMode::kDirect) {
    auto file = open_file(path);
    if (!file) return "cannot open the file";
    auto d = DirectFile::open(*file);
    if (!d.ok()) return "O_DIRECT unavailable here: " + d.error().message;
    *align = std::max(d->offset_align(), d->memory_align());
  }
  if (io == IoMode::kUring) {
    auto u = UringReader::create();
    if (!u.ok()) return "io_uring unavailable here: " + u.error().message;
  }
  return {};
}

// --- File::read_exact ---------------------------------------------------------

TEST(FaultInjection, ReadExactRetriesEintrAndTinyShortReads) {
  TempDir dir;
  const std::string path = dir.file("data.bin");
  const auto data = test::pattern(3001, 1);
  test::write_file(path, data);
  auto file = open_file(path);
  ASSERT_TRUE(file);

  ChoppyReads inj(path, /*tiny_only=*/true);
  ScopedFaultInjector scoped(&inj);
  std::vector<std::byte> all(data.size());
  Status s = file->read_exact(0, all);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(all, data);
  std::vector<std::byte> part(2000);
  s = file->read_exact(17, part);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_TRUE(std::equal(part.begin(), part.end(), data.begin() + 17));
  EXPECT_GT(inj.eintr(), 1000u);  // ~one per tiny read: the seam is really in the path
  EXPECT_GT(inj.shorts(), 1000u);
}

TEST(FaultInjection, ReadExactEioNamesFileAndOffset) {
  TempDir dir;
  const std::string path = dir.file("data.bin");
  test::write_file(path, test::pattern(10000, 2));
  auto file = open_file(path);
  ASSERT_TRUE(file);

  BadSector inj(path, 6000);
  ScopedFaultInjector scoped(&inj);
  std::vector<std::byte> buf(9000);
  Status s = file->read_exact(100, buf);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, path);
  ASSERT_TRUE(s.error().offset.has_value());
  EXPECT_EQ(*s.error().offset, 6000u);
  EXPECT_TRUE(contains(s.error().message, std::strerror(EIO))) << s.error().message;
  // A range that stops short of the bad sector still reads.
  std::vector<std::byte> before(5000);
  EXPECT_TRUE(file->read_exact(1000, before).ok());
}

// --- O_DIRECT and io_uring readers on their own -------------------------------

TEST(FaultInjection, DirectReadUnalignedShortIsAnErrorNotWrongBytes) {
  TempDir dir;
  const std::string path = dir.file("data.bin");
  const auto data = test::pattern(100000, 3);
  test::write_file(path, data);
  auto file = open_file(path);
  ASSERT_TRUE(file);
  auto d = DirectFile::open(*file);
  if (!d.ok()) GTEST_SKIP() << "O_DIRECT unavailable here: " << d.error().message;
  const uint64_t offset = 10, len = 50000;
  AlignedBuffer bounce(d->memory_align(), d->cover_bytes(offset, len));
  {
    // Aligned shorts and EINTR: exact bytes.
    ChoppyReads inj(path, false, std::max(d->offset_align(), d->memory_align()));
    ScopedFaultInjector scoped(&inj);
    auto r = d->read(offset, len, bounce.span());
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(std::memcmp(*r, data.data() + offset, len), 0);
    EXPECT_GT(inj.shorts(), 0u);
    EXPECT_GT(inj.eintr(), 0u);
  }
  {
    // EIO in the block that holds the first wanted byte: the error names
    // that byte, not the alignment padding before it (which may be another
    // tensor's).
    BadSector inj(path, 0);
    ScopedFaultInjector scoped(&inj);
    auto r = d->read(offset, len, bounce.span());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().file, path);
    EXPECT_EQ(r.error().offset, std::optional<uint64_t>(offset));
    EXPECT_TRUE(contains(r.error().message, std::strerror(EIO))) << r.error().message;
  }
  UnalignedDirectShorts inj(path);
  ScopedFaultInjector scoped(&inj);
  auto r = d->read(offset, len, bounce.span());
  EXPECT_GT(inj.hits(), 0u);
  ASSERT_FALSE(r.ok()) << "an unaligned short O_DIRECT read was taken as data";
  EXPECT_EQ(r.error().file, path);
  ASSERT_TRUE(r.error().offset.has_value());
  EXPECT_GE(*r.error().offset, offset);
  EXPECT_LT(*r.error().offset, offset + len);
}

TEST(FaultInjection, UringRetriesEintrAndShortsAndNamesEio) {
  TempDir dir;
  const std::string path = dir.file("data.bin");
  const auto data = test::pattern(3'000'000, 4);
  test::write_file(path, data);
  auto file = open_file(path);
  ASSERT_TRUE(file);
  auto u = UringReader::create(4, 256 << 10);  // several pieces in flight at once
  if (!u.ok()) GTEST_SKIP() << "io_uring unavailable here: " << u.error().message;
  {
    ChoppyReads inj(path, false);
    ScopedFaultInjector scoped(&inj);
    std::vector<std::byte> out(data.size() - 123);
    Status s = u->read(file->native_handle(), path, 123, out);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    EXPECT_TRUE(std::equal(out.begin(), out.end(), data.begin() + 123));
    EXPECT_GT(inj.shorts(), 0u);
    EXPECT_GT(inj.eintr(), 0u);
  }
  BadSector inj(path, 1'234'567);
  ScopedFaultInjector scoped(&inj);
  std::vector<std::byte> out(data.size());
  Status s = u->read(file->native_handle(), path, 0, out);
  EXPECT_GT(inj.hits(), 0u);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, path);
  ASSERT_TRUE(s.error().offset.has_value());
  EXPECT_EQ(*s.error().offset, 1'234'567u);
  EXPECT_TRUE(contains(s.error().message, std::strerror(EIO))) << s.error().message;
  // The reader is still usable after a failed read (everything in flight was drained).
  set_fault_injector(nullptr);
  std::vector<std::byte> again(4096);
  ASSERT_TRUE(u->read(file->native_handle(), path, 4096, again).ok());
  EXPECT_TRUE(std::equal(again.begin(), again.end(), data.begin() + 4096));
}

// io_uring_submit_and_wait itself failing: EAGAIN/EBUSY are waited out;
// anything else is an error that never hangs, and a ring left holding
// entries the kernel never took refuses further reads.
class SubmitFails : public FaultInjector {
 public:
  SubmitFails(int code, int times) : code_(code), left_(times) {}
  std::optional<int> uring_submit() override {
    if (left_ == 0) return std::nullopt;
    --left_;
    ++hits_;
    return -code_;
  }
  int hits() const { return hits_; }

 private:
  int code_;
  int left_;
  int hits_ = 0;
};

TEST(FaultInjection, UringSubmitBusyIsWaitedOutAndOtherFailuresFailCleanly) {
  TempDir dir;
  const std::string path = dir.file("data.bin");
  const auto data = test::pattern(2'000'000, 9);
  test::write_file(path, data);
  auto file = open_file(path);
  ASSERT_TRUE(file);
  auto u = UringReader::create(4, 256 << 10);
  if (!u.ok()) GTEST_SKIP() << "io_uring unavailable here: " << u.error().message;
  {
    SubmitFails busy(EAGAIN, 3);
    ScopedFaultInjector scoped(&busy);
    std::vector<std::byte> out(data.size());
    Status s = u->read(file->native_handle(), path, 0, out);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    EXPECT_EQ(busy.hits(), 3);
    EXPECT_EQ(out, data);
  }
  SubmitFails broken(EIO, 1);
  ScopedFaultInjector scoped(&broken);
  std::vector<std::byte> out(data.size());
  Status s = u->read(file->native_handle(), path, 0, out);  // the first submit fails, with four entries prepared
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, path);
  EXPECT_TRUE(contains(s.error().message, "submit failed")) << s.error().message;
  Status again = u->read(file->native_handle(), path, 0, out);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(contains(again.error().message, "unusable")) << again.error().message;
}

// --- whole copy-path loads ----------------------------------------------------

class CopyPathFaults : public ::testing::TestWithParam<IoMode> {};

TEST_P(CopyPathFaults, EintrAndShortReadsLoadExactBytes) {
  ModelFile mf;
  ASSERT_FALSE(mf.table.tensors().empty());
  uint64_t align = 4096;
  if (std::string why = unavailable(GetParam(), mf.path, &align); !why.empty()) GTEST_SKIP() << why;

  ChoppyReads inj(mf.path, false, align);
  Result<LoadedModel> model = [&] {
    ScopedFaultInjector scoped(&inj);
    return load_model(mf.table, copy_options(GetParam()));
  }();
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  EXPECT_EQ(model->report().io_mode, io_mode_name(GetParam()));
  EXPECT_GT(inj.eintr(), 0u);
  EXPECT_GT(inj.shorts(), 0u);

  // verify_model reads the file itself, without the injector: an independent check.
  auto report = verify_model(*model);
  ASSERT_TRUE(report.ok()) << report.error().to_string();
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->tensors.size(), mf.bytes.size());
  for (const auto& t : model->tensors()) {
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.placement, Placement::kCopy);
    ASSERT_NE(t.host_data, nullptr);
    const auto& want = mf.bytes.at(t.name);
    ASSERT_EQ(t.nbytes, want.size());
    EXPECT_EQ(std::memcmp(t.host_data, want.data(), want.size()), 0);
  }
}

TEST_P(CopyPathFaults, EioNamesFileTensorAndOffsetInsideIt) {
  ModelFile mf;
  ASSERT_FALSE(mf.table.tensors().empty());
  uint64_t align = 4096;
  if (std::string why = unavailable(GetParam(), mf.path, &align); !why.empty()) GTEST_SKIP() << why;
  const TensorInfo& big = mf.tensor("big");
  // An aligned bad sector whose whole block lies inside "big", so no other
  // tensor's (aligned-out) read touches it.
  const uint64_t bad = (big.offset + big.nbytes / 2) / align * align;
  ASSERT_GE(bad, big.offset + align);
  ASSERT_LE(bad + 2 * align, big.offset + big.nbytes);

  BadSector inj(mf.path, bad);
  Result<LoadedModel> model = [&] {
    ScopedFaultInjector scoped(&inj);
    return load_model(mf.table, copy_options(GetParam()));
  }();
  EXPECT_GT(inj.hits(), 0u);
  ASSERT_FALSE(model.ok()) << "the load succeeded over an I/O error";
  const Error& e = model.error();
  EXPECT_EQ(e.file, mf.path);
  EXPECT_EQ(e.tensor, "big");
  ASSERT_TRUE(e.offset.has_value()) << e.to_string();
  EXPECT_GE(*e.offset, big.offset) << e.to_string();
  EXPECT_LT(*e.offset, big.offset + big.nbytes) << e.to_string();
  EXPECT_TRUE(contains(e.message, std::strerror(EIO))) << e.to_string();
}

INSTANTIATE_TEST_SUITE_P(IoModes, CopyPathFaults, ::testing::Values(IoMode::kRead, IoMode::kDirect, IoMode::kUring),
                         [](const auto& p) { return std::string(io_mode_name(p.param)); });

TEST(FaultInjection, DirectLoadWithUnalignedShortReadFails) {
  ModelFile mf;
  ASSERT_FALSE(mf.table.tensors().empty());
  uint64_t align = 4096;
  if (std::string why = unavailable(IoMode::kDirect, mf.path, &align); !why.empty()) GTEST_SKIP() << why;
  UnalignedDirectShorts inj(mf.path);
  Result<LoadedModel> model = [&] {
    ScopedFaultInjector scoped(&inj);
    return load_model(mf.table, copy_options(IoMode::kDirect));
  }();
  EXPECT_GT(inj.hits(), 0u);
  ASSERT_FALSE(model.ok()) << "an unaligned short O_DIRECT read was taken as data";
  const Error& e = model.error();
  EXPECT_EQ(e.file, mf.path);
  ASSERT_FALSE(e.tensor.empty()) << e.to_string();
  const TensorInfo& t = mf.tensor(e.tensor);
  ASSERT_TRUE(e.offset.has_value()) << e.to_string();
  EXPECT_GE(*e.offset, t.offset) << e.to_string();
  EXPECT_LT(*e.offset, t.offset + t.nbytes) << e.to_string();
}

TEST(FaultInjection, LoadOutOfMemoryNamesFileAndTensor) {
  ModelFile mf;
  ASSERT_FALSE(mf.table.tensors().empty());
  const TensorInfo& big = mf.tensor("big");
  // Only "big"'s copy buffer (its size rounded up to the copy alignment).
  FailAlloc inj(big.nbytes, big.nbytes + 4096);
  Result<LoadedModel> model = [&] {
    ScopedFaultInjector scoped(&inj);
    return load_model(mf.table, copy_options(IoMode::kRead));
  }();
  EXPECT_EQ(inj.hits(), 1u) << "the loader's copy buffers do not go through sys::aligned_alloc";
  ASSERT_FALSE(model.ok()) << "the load succeeded though an allocation failed";
  const Error& e = model.error();
  EXPECT_EQ(e.file, mf.path);
  EXPECT_EQ(e.tensor, "big");
  EXPECT_TRUE(contains(e.message, "out of memory")) << e.to_string();
}

// --- prefetch -------------------------------------------------------------------

TEST(FaultInjection, PrefetchPreadEioNamesTheFile) {
  TempDir dir;
  const std::string path = dir.file("data.bin");
  const size_t size = (3u << 20) + 555;
  test::write_file(path, test::pattern(size, 5));
  auto file = open_file(path);
  ASSERT_TRUE(file);
  auto m = MappedFile::map(file);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  const uint64_t bad = (2u << 20) + 8192;

  BadSector inj(path, bad);
  ScopedFaultInjector scoped(&inj);
  PrefetchOptions po;
  po.workers = 2;
  po.chunk_bytes = 1 << 20;
  po.force_pread = true;
  Prefetcher p({{m->data(), size, file.get(), 0}}, po);
  Status s = p.wait_all();
  p.stop();
  EXPECT_GT(inj.hits(), 0u);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, path);
  ASSERT_TRUE(s.error().offset.has_value());
  EXPECT_EQ(*s.error().offset, bad);
  EXPECT_TRUE(contains(s.error().message, std::strerror(EIO))) << s.error().message;
  EXPECT_EQ(p.stats().method, "pread");
}

// --- AtomicFileWriter -----------------------------------------------------------

std::vector<std::string> folder_entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(FaultInjection, DiskFullLeavesTheOldFileAndNoTemporary) {
  TempDir dir;
  const std::string path = dir.file("out.bin");
  const auto old = test::pattern(777, 6);
  test::write_file(path, old);
  const auto data = test::pattern((5u << 20) + 3, 7);  // more than the writer buffers

  for (bool small : {true, false}) {
    SCOPED_TRACE(small ? "fails at commit" : "fails in write");
    FaultyWrites inj(dir.path());
    inj.fail_errno = ENOSPC;
    ScopedFaultInjector scoped(&inj);
    Status s;
    {
      auto w = AtomicFileWriter::create(path);
      ASSERT_TRUE(w.ok()) << w.error().to_string();
      s = w->write(small ? std::span(data).first(1000) : std::span(data));
      if (s.ok()) s = w->commit();
    }
    EXPECT_GT(inj.failed(), 0u);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().file, path);
    EXPECT_TRUE(contains(s.error().message, std::strerror(ENOSPC))) << s.error().to_string();
    EXPECT_EQ(test::read_file(path), old);
    EXPECT_EQ(folder_entries(dir.path()), std::vector<std::string>{"out.bin"});
  }

  // The same through a format writer: the error reaches its caller.
  FaultyWrites inj(dir.path());
  inj.fail_errno = ENOSPC;
  ScopedFaultInjector scoped(&inj);
  SafetensorsWriter sw;
  sw.add_tensor("t", DType::F32, {1000}, TensorData::bytes(test::pattern(4000, 8)));
  Status s = sw.write(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, path);
  EXPECT_TRUE(contains(s.error().message, std::strerror(ENOSPC))) << s.error().to_string();
  EXPECT_EQ(test::read_file(path), old);
  EXPECT_EQ(folder_entries(dir.path()), std::vector<std::string>{"out.bin"});
}

TEST(FaultInjection, AWriteThatMakesNoProgressFailsInsteadOfSpinning) {
  TempDir dir;
  const std::string path = dir.file("out.bin");
  const auto old = test::pattern(100, 3);
  test::write_file(path, old);
  FaultyWrites inj(dir.path());
  inj.zero = true;
  ScopedFaultInjector scoped(&inj);
  Status s;
  {
    auto w = AtomicFileWriter::create(path);
    ASSERT_TRUE(w.ok());
    s = w->write(test::pattern(1000, 4));
    if (s.ok()) s = w->commit();
  }
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, path);
  EXPECT_TRUE(contains(s.error().message, "wrote nothing")) << s.error().message;
  EXPECT_EQ(test::read_file(path), old);
  EXPECT_EQ(folder_entries(dir.path()), std::vector<std::string>{"out.bin"});
}

void expect_written_whole(bool eintr, bool shorten) {
  TempDir dir;
  const std::string path = dir.file("out.bin");
  const auto data = test::pattern((9u << 20) + 11, 9);  // two full buffers and a tail
  FaultyWrites inj(dir.path());
  inj.eintr = eintr;
  inj.shorten = shorten;
  {
    ScopedFaultInjector scoped(&inj);
    auto w = AtomicFileWriter::create(path);
    ASSERT_TRUE(w.ok()) << w.error().to_string();
    ASSERT_TRUE(w->write(std::span(data).first(12345)).ok());
    ASSERT_TRUE(w->write(std::span(data).subspan(12345)).ok());
    Status s = w->commit();
    ASSERT_TRUE(s.ok()) << s.error().to_string();
  }
  if (eintr) {
    EXPECT_GT(inj.eintr_count(), 0u);
  }
  if (shorten) {
    EXPECT_GT(inj.shorts(), 100u);
  }
  EXPECT_EQ(test::read_file(path), data);
  EXPECT_EQ(folder_entries(dir.path()), std::vector<std::string>{"out.bin"});
}

TEST(FaultInjection, ShortWritesAreCompleted) { expect_written_whole(false, true); }
TEST(FaultInjection, InterruptedWritesAreRetried) { expect_written_whole(true, false); }
TEST(FaultInjection, InterruptedAndShortWritesTogether) { expect_written_whole(true, true); }

}  // namespace
}  // namespace wm
