// io/platform.h and the platform layer's neutral faces (io/memory.h,
// io/child_process.h): every capability answers with a mechanism or a
// reason, the answers agree with what the calls then do, and
// `weightmap platform [--json]` shows them.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cctype>
#include <filesystem>
#include <set>

#include "io/child_process.h"
#include "io/mapped_file.h"
#include "io/memory.h"
#include "io/page_size.h"
#include "io/platform.h"
#include "io/uring_reader.h"
#include "platform_support.h"
#include "test_support.h"

namespace wm {
namespace {

using test::run_cli;
using test::TempDir;

TEST(Platform, EveryCapabilityHasANameADescriptionAndOneAnswer) {
  std::set<std::string_view> names;
  for (Capability c : kAllCapabilities) {
    std::string_view name = capability_name(c);
    ASSERT_FALSE(name.empty());
    for (char ch : name) EXPECT_TRUE(std::islower(static_cast<unsigned char>(ch)) || ch == '_') << name;
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
    EXPECT_FALSE(capability_description(c).empty()) << name;
    const CapabilityStatus& s = capability_status(c);
    EXPECT_EQ(s.supported, supports(c)) << name;
    if (s.supported) {
      EXPECT_FALSE(s.mechanism.empty()) << name << ": supported but no mechanism named";
      EXPECT_TRUE(s.reason.empty()) << name;
      EXPECT_EQ(unsupported_reason(c), "") << name;
    } else {
      EXPECT_FALSE(s.reason.empty()) << name << ": unsupported without a reason";
      EXPECT_EQ(unsupported_reason(c).rfind(std::string(name) + ": ", 0), 0u) << unsupported_reason(c);
    }
  }
  EXPECT_EQ(names.size(), std::size(kAllCapabilities));
  EXPECT_FALSE(platform_description().empty());
}

#if defined(__linux__)
TEST(Platform, LinuxHasWhatTheLoaderUses) {
  for (Capability c : {Capability::kSharedReadOnlyMap, Capability::kPrivateCopyOnWrite, Capability::kAccessHints,
                       Capability::kPrefetch, Capability::kResidencyQuery, Capability::kPageCacheEviction,
                       Capability::kFileLock, Capability::kMemoryPinning, Capability::kPinOnFault,
                       Capability::kDirectIo, Capability::kFaultGuard, Capability::kProcessMemory,
                       Capability::kSpawnChild})
    EXPECT_TRUE(supports(c)) << unsupported_reason(c);
  EXPECT_NE(platform_description().find("Linux"), std::string::npos) << platform_description();
}
#endif

TEST(Platform, PopulateReadDoesWhatItsCapabilitySays) {
  TempDir dir;
  const std::string path = dir.path() + "/f.bin";
  test::write_file(path, test::pattern(4 * page_size(), 7));
  auto file = File::open(path);
  ASSERT_TRUE(file.ok()) << file.error().to_string();
  auto m = MappedFile::map(std::make_shared<const File>(std::move(file.value())));
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  Status s = populate_read(m->data(), m->size());
  if (supports(Capability::kPopulateRead)) {
    EXPECT_TRUE(s.ok()) << s.error().to_string();
  } else {
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kUnsupported) << s.error().to_string();
  }
}

TEST(Platform, AsyncIoAnswerAgreesWithTheReader) {
  auto reader = UringReader::create(2, 4096);
  EXPECT_EQ(reader.ok(), supports(Capability::kAsyncIo))
      << (reader.ok() ? std::string("reader made") : reader.error().to_string()) << "; "
      << unsupported_reason(Capability::kAsyncIo);
}

TEST(Platform, ResidentPagesSeeWhichFreshPagesWereTouched) {
  if (!supports(Capability::kResidencyQuery)) GTEST_SKIP() << unsupported_reason(Capability::kResidencyQuery);
  const uint64_t page = page_size();
  auto mem = AnonymousMemory::allocate(4 * page);  // far below a huge page: plain pages only
  ASSERT_TRUE(mem.ok()) << mem.error().to_string();
  mem->data()[0] = std::byte{1};
  mem->data()[2 * page + 5] = std::byte{1};
  std::vector<unsigned char> resident;
  uintptr_t first = 0;
  ASSERT_TRUE(resident_pages(mem->data() + 1, 4 * page - 1, resident, first).ok());
  EXPECT_EQ(first, reinterpret_cast<uintptr_t>(mem->data()));
  ASSERT_EQ(resident.size(), 4u);
  EXPECT_EQ(resident[0], 1);
  EXPECT_EQ(resident[1], 0);
  EXPECT_EQ(resident[2], 1);
  EXPECT_EQ(resident[3], 0);
}

TEST(Platform, AdviceAndPinningWorkOnAMapping) {
  auto mem = AnonymousMemory::allocate(8 * page_size());
  ASSERT_TRUE(mem.ok());
  for (AccessAdvice a : {AccessAdvice::kSequential, AccessAdvice::kRandom, AccessAdvice::kWillNeed, AccessAdvice::kNormal}) {
    Status s = advise_memory(mem->data() + 3, 5 * page_size(), a);  // unaligned: widened to pages
    const bool hint = a == AccessAdvice::kSequential || a == AccessAdvice::kRandom;
    if (hint && !supports(Capability::kAccessHints)) {  // Windows: refused as unsupported, not failed
      ASSERT_FALSE(s.ok()) << access_advice_name(a);
      EXPECT_EQ(s.error().code, ErrorCode::kUnsupported) << s.error().to_string();
      continue;
    }
    EXPECT_TRUE(s.ok()) << access_advice_name(a) << ": " << s.error().to_string();
  }
  EXPECT_TRUE(advise_memory(mem->data(), 0, AccessAdvice::kWillNeed).ok());
  Status pinned = pin_pages(mem->data(), page_size());
  if (pinned.ok()) unpin_pages(mem->data(), page_size());
  else EXPECT_NE(pinned.error().message.find(" failed: "), std::string::npos) << pinned.error().to_string();
}

// The child is the weightmap CLI itself (the same program on every
// platform): its output, its error stream and its exit code come back.
TEST(Platform, ChildOutputAndExitCodeComeBack) {
  if (!supports(Capability::kSpawnChild)) GTEST_SKIP() << unsupported_reason(Capability::kSpawnChild);
  test::TempDir dir;
  const std::string missing = dir.file("missing.gguf");
  auto r = run_child(test::cli_argv("platform"), {.search_path = true, .capture_stderr = true});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_TRUE(r->exited);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_NE(r->out.find("shared_read_only_map"), std::string::npos) << r->out;

  auto failed = run_child(test::cli_argv("inspect " + missing), {.search_path = true, .capture_stderr = true});
  ASSERT_TRUE(failed.ok()) << failed.error().to_string();
  EXPECT_TRUE(failed->exited);
  EXPECT_EQ(failed->exit_code, 1);
  EXPECT_FALSE(failed->ok());
  EXPECT_EQ(failed->out, "");
  EXPECT_NE(failed->err.find("missing.gguf"), std::string::npos) << failed->err;

  auto quiet = run_child(test::cli_argv("inspect " + missing), {.search_path = true});  // stderr to the null device
  ASSERT_TRUE(quiet.ok()) << quiet.error().to_string();
  EXPECT_EQ(quiet->exit_code, 1);
  EXPECT_EQ(quiet->err, "");

  // Ended by a signal (POSIX) or an exception (Windows): not "exited".
  auto killed = run_child(test::killed_child_command(), {.search_path = true});
  ASSERT_TRUE(killed.ok()) << killed.error().to_string();
  EXPECT_FALSE(killed->exited);
}

TEST(Platform, AMissingProgramIsNotFoundNamingIt) {
  if (!supports(Capability::kSpawnChild)) GTEST_SKIP() << unsupported_reason(Capability::kSpawnChild);
  WM_SKIP_UNDER_QEMU("qemu-user's vfork does not pass the exec failure back: the child just exits 127");
  auto missing = run_child({"weightmap-no-such-program"}, {.search_path = true});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().file, "weightmap-no-such-program");
}

TEST(Platform, ThisExecutableIsThisTest) {
  auto path = this_executable_path();
  ASSERT_TRUE(path.ok()) << path.error().to_string();
  EXPECT_EQ(std::filesystem::path(*path).stem(), "platform_test");  // platform_test.exe on Windows
  EXPECT_TRUE(std::filesystem::exists(*path));
}

TEST(PlatformCli, JsonListsEveryCapabilityAsTheLibraryAnswers) {
  auto r = run_cli("platform --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(r.out).get(doc)) << r.out;
  EXPECT_EQ(std::string_view(doc["platform"]), platform_description());
  simdjson::dom::array caps = doc["capabilities"];
  ASSERT_EQ(caps.size(), std::size(kAllCapabilities));
  size_t k = 0;
  for (simdjson::dom::element e : caps) {
    Capability c = kAllCapabilities[k++];
    EXPECT_EQ(std::string_view(e["name"]), capability_name(c));
    EXPECT_EQ(bool(e["supported"]), supports(c)) << capability_name(c);
    if (supports(c)) EXPECT_EQ(std::string_view(e["mechanism"]), capability_status(c).mechanism);
    else EXPECT_EQ(std::string_view(e["reason"]), capability_status(c).reason);
  }
}

TEST(PlatformCli, TextHasOneLinePerCapability) {
  auto r = run_cli("platform");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t supported = 0;
  for (Capability c : kAllCapabilities) {
    supported += supports(c);
    std::string line = fmt::format("  {:<22} {:<3}", capability_name(c), supports(c) ? "yes" : "no");
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  }
  EXPECT_NE(r.out.find(fmt::format("{} of {} capabilities supported", supported, std::size(kAllCapabilities))),
            std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace wm
