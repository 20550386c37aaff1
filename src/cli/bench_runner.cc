#include "cli/bench_runner.h"

#include <algorithm>
#include <fmt/format.h>
#include <simdjson.h>

#include "compute/bandwidth.h"
#include "format/model_path.h"
#include "io/child_process.h"
#include "io/file.h"
#include "io/page_cache.h"
#include "io/read_bandwidth.h"
#include "io/residency.h"

namespace wm::cli {
namespace {

Status evict_all(const std::vector<std::string>& files) {
  for (const auto& p : files) {
    auto f = File::open(p);
    if (!f) return f.error();
    if (Status s = evict_file(*f); !s) return s;
  }
  return {};
}

Status warm_all(const std::vector<std::string>& files) {
  std::vector<std::byte> buf(8 << 20);
  for (const auto& p : files) {
    auto f = File::open(p);
    if (!f) return f.error();
    for (uint64_t off = 0; off < f->size(); off += buf.size()) {
      uint64_t n = std::min<uint64_t>(buf.size(), f->size() - off);
      if (Status s = f->read_exact(off, {buf.data(), n}); !s) return s;
    }
  }
  return {};
}

// Runs `self run PATHS... ARGS --json` in a child; its stdout is the JSON.
Result<Sample> run_child(const BenchOptions& o, const Strategy& s) {
  std::vector<std::string> argv = {o.self, "run"};
  for (const auto& p : o.paths) argv.push_back(p);
  for (const auto& a : s.args) argv.push_back(a);
  argv.insert(argv.end(), {"--json", "--no-evict", "-t", std::to_string(o.threads)});
  auto child = wm::run_child(argv);
  if (!child) return Error{o.self, {}, {}, child.error().message};
  const std::string& json = child->out;
  std::string cmdline;
  for (size_t i = 1; i < argv.size(); ++i) cmdline += " " + argv[i];
  if (!child->ok())
    return Error{{}, {}, {},
                 fmt::format("strategy {}: `weightmap{}` failed ({})", s.name, cmdline,
                             child->exited ? fmt::format("exit code {}", child->exit_code) : std::string("killed"))};
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc) != simdjson::SUCCESS)
    return Error{{}, {}, {}, fmt::format("strategy {}: unreadable output of `weightmap{}`", s.name, cmdline)};
  Sample r;
  std::string_view sum;
  double load = 0, ttfr = 0;
  if (doc["load_ms"].get(load) || doc["ttfr_ms"].get(ttfr) || doc["checksum"].get(sum))
    return Error{{}, {}, {}, fmt::format("strategy {}: output of `weightmap{}` lacks fields", s.name, cmdline)};
  r.load_ms = load;
  r.ttfr_ms = ttfr;
  r.checksum = std::stoull(std::string(sum), nullptr, 16);
  // The child's own VmHWM, from its report: rusage's ru_maxrss would include
  // this process's pages (a vfork child's peak survives exec).
  uint64_t peak = 0;
  if (!doc["peak_rss_kib"].get(peak)) r.peak_rss_kib = peak;
  simdjson::dom::array stages;
  if (!doc["stages"].get(stages))
    for (auto st : stages) {
      uint64_t anon = 0;
      if (!st["anon_kib"].get(anon)) r.anon_kib = std::max(r.anon_kib, anon);
    }
  return r;
}

// O_DIRECT read of every file once (1 MiB blocks, 4 in flight), GB/s.
Result<double> direct_bandwidth(const std::vector<std::string>& files) {
  uint64_t bytes = 0;
  double seconds = 0;
  for (const auto& p : files) {
    auto bw = direct_read_bandwidth(p, 1ull << 20, 4);
    if (!bw) return bw.error();
    bytes += bw->bytes;
    seconds += bw->seconds;
  }
  return seconds > 0 ? static_cast<double>(bytes) / seconds / 1e9 : 0.0;
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  size_t n = xs.size();
  if (n == 0) return 0;
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

template <class F>
double median_of(std::vector<Sample>& v, F field) {
  std::vector<double> xs;
  for (auto& s : v) xs.push_back(static_cast<double>(field(s)));
  return median(std::move(xs));
}

}  // namespace

const std::vector<Strategy>& bench_strategies() {
  static const std::vector<Strategy> kAll = {
      {"mmap", {"--hints", "none"}, true},
      {"mmap-prefetch", {"--hints", "populate", "--prefetch", "background"}, true},
      {"auto", {}, true},
      {"read", {"--no-mmap"}, false},
      {"direct", {"--no-mmap", "--io", "direct"}, false},
      {"uring", {"--no-mmap", "--io", "uring"}, false},
  };
  return kAll;
}

Result<BenchReport> run_bench(const BenchOptions& o) {
  BenchReport report;
  auto table = open_model(o.paths, {o.log, {}, false});
  if (!table) return table.error();
  std::vector<std::string> files;
  for (const auto& f : table->files()) {
    files.push_back(f.path);
    report.file_bytes += f.size;
  }
  std::vector<Strategy> chosen;
  for (const auto& s : bench_strategies())
    if (o.strategies.empty() || std::find(o.strategies.begin(), o.strategies.end(), s.name) != o.strategies.end())
      chosen.push_back(s);
  for (const auto& name : o.strategies)
    if (std::none_of(chosen.begin(), chosen.end(), [&](const Strategy& s) { return s.name == name; }))
      return Error{{}, {}, {}, fmt::format("unknown strategy '{}' (mmap, mmap-prefetch, auto, read, direct, uring)", name)};

  // The limits, on these files, now (the cold bound again in every cold round).
  // A filesystem without O_DIRECT (tmpfs, some FUSE) leaves the cold bound
  // unknown (0, shown as such) rather than failing the whole bench.
  auto probe = [&](std::vector<double>& into) {
    auto bw = direct_bandwidth(files);
    if (bw) into.push_back(*bw);
    else o.log.warn(fmt::format("no cold bound: {}", bw.error().to_string()));
  };
  std::vector<double> direct_samples;
  if (!o.cold) {
    probe(direct_samples);
    report.limits.direct_read_gbps = median(direct_samples);
  }
  ReadBandwidthOptions ro;
  ro.threads = o.threads;
  report.limits.memory_read_gbps = memory_read_gbps(ro);
  report.limits.fresh_write_gbps =
      fresh_write_gbps(std::min<uint64_t>(report.file_bytes, 1ull << 30), std::max(1u, o.threads));

  // Runs go round-robin over the strategies (run 1 of each, then run 2 ...),
  // and each cold round measures the O_DIRECT bandwidth again: a virtual
  // disk's speed drifts by 2x or more over minutes, and this way a slow
  // phase hits every strategy and the bound alike.
  for (bool cold : {true, false}) {
    if ((cold && !o.cold) || (!cold && !o.warm)) continue;
    std::vector<std::vector<Sample>> samples(chosen.size());
    for (int run = 0; run < o.runs; ++run) {
      if (cold) {
        if (Status st = evict_all(files); !st) return st.error();
        probe(direct_samples);
      }
      for (size_t k = 0; k < chosen.size(); ++k) {
        const Strategy& s = chosen[k];
        if (cold) {
          if (Status st = evict_all(files); !st) return st.error();
        } else if (files_residency(files).fraction() < 0.99) {
          if (Status st = warm_all(files); !st) return st.error();
        }
        double before = files_residency(files).fraction();
        if (cold && before > 0.01)
          o.log.warn(fmt::format("cold run of {}: {:.1f}% of the files still cached after eviction", s.name, 100 * before));
        auto sample = run_child(o, s);
        if (!sample) return sample.error();
        sample->residency_before = before;
        sample->page_cache_bytes = files_residency(files).resident_bytes;
        o.log.info(fmt::format("{} {} run {}: ttfr {:.1f} ms", s.name, cold ? "cold" : "warm", run + 1, sample->ttfr_ms));
        samples[k].push_back(*sample);
      }
    }
    if (cold) report.limits.direct_read_gbps = median(direct_samples);
    for (size_t k = 0; k < chosen.size(); ++k) {
      const Strategy& s = chosen[k];
      std::vector<Sample>& v = samples[k];
      BenchResult r;
      r.strategy = s.name;
      r.cold = cold;
      r.median.load_ms = median_of(v, [](const Sample& x) { return x.load_ms; });
      r.median.ttfr_ms = median_of(v, [](const Sample& x) { return x.ttfr_ms; });
      r.median.peak_rss_kib = static_cast<uint64_t>(median_of(v, [](const Sample& x) { return x.peak_rss_kib; }));
      r.median.anon_kib = static_cast<uint64_t>(median_of(v, [](const Sample& x) { return x.anon_kib; }));
      r.median.page_cache_bytes = static_cast<uint64_t>(median_of(v, [](const Sample& x) { return x.page_cache_bytes; }));
      r.median.residency_before = median_of(v, [](const Sample& x) { return x.residency_before; });
      r.median.checksum = v.front().checksum;
      for (const auto& x : v) r.checksums_agree = r.checksums_agree && x.checksum == r.median.checksum;
      double gbps = cold ? report.limits.direct_read_gbps
                         : (s.mapped ? report.limits.memory_read_gbps : report.limits.fresh_write_gbps);
      r.bound_ms = gbps > 0 ? static_cast<double>(report.file_bytes) / (gbps * 1e6) : 0;
      report.results.push_back(r);
    }
  }
  return report;
}

}  // namespace wm::cli
