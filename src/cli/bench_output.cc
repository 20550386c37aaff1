#include "cli/bench_output.h"

#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <filesystem>
#include <fstream>
#include <random>

#include "cli/output_units.h"
#include "common/json_writer.h"
#include "io/child_process.h"

namespace wm::cli {
namespace {

double gbps(uint64_t bytes, double ms) { return ms > 0 ? static_cast<double>(bytes) / (ms * 1e6) : 0; }
double ms_at(uint64_t bytes, double gb_per_s) { return gb_per_s > 0 ? static_cast<double>(bytes) / (gb_per_s * 1e6) : 0; }

bool all_checksums_agree(const BenchReport& r) {
  for (const auto& x : r.results)
    if (!x.checksums_agree || x.median.checksum != r.results.front().median.checksum) return false;
  return true;
}

}  // namespace

std::string bench_text(const BenchReport& r) {
  std::string out = fmt::format(
      "{:.1f} MiB; limits: O_DIRECT read {:.2f} GB/s (cold bound {:.0f} ms), memory read {:.2f} GB/s (warm bound "
      "for mapped {:.0f} ms), fresh-memory write {:.2f} GB/s (warm bound for copies {:.0f} ms)\n",
      mib(r.file_bytes), r.limits.direct_read_gbps,
      ms_at(r.file_bytes, r.limits.direct_read_gbps), r.limits.memory_read_gbps,
      ms_at(r.file_bytes, r.limits.memory_read_gbps), r.limits.fresh_write_gbps,
      ms_at(r.file_bytes, r.limits.fresh_write_gbps));
  out += fmt::format("{:<14} {:<5} {:>9} {:>9} {:>6} {:>9} {:>9} {:>9} {:>7}\n", "strategy", "cache", "load ms",
                     "TTFR ms", "GB/s", "peak MiB", "anon MiB", "cache MiB", "/bound");
  for (const auto& x : r.results)
    out += fmt::format("{:<14} {:<5} {:>9.1f} {:>9.1f} {:>6.2f} {:>9.1f} {:>9.1f} {:>9.1f} {:>6.2f}x{}\n", x.strategy,
                       x.cold ? "cold" : "warm", x.median.load_ms, x.median.ttfr_ms, gbps(r.file_bytes, x.median.ttfr_ms),
                       x.median.peak_rss_kib / 1024.0, x.median.anon_kib / 1024.0,
                       mib(x.median.page_cache_bytes),
                       x.bound_ms > 0 ? x.median.ttfr_ms / x.bound_ms : 0, x.checksums_agree ? "" : "  CHECKSUMS DIFFER");
  out += all_checksums_agree(r) ? fmt::format("checksum {} for every strategy and run\n",
                                              r.results.empty() ? std::string() : hex(r.results.front().median.checksum))
                                : "checksums DIFFER between strategies or runs\n";
  return out;
}

std::string bench_json(const BenchReport& r) {
  JsonWriter j;
  j.begin_object();
  j.key("file_bytes").value(r.file_bytes);
  j.key("limits").begin_object();
  j.key("direct_read_gbps").value(r.limits.direct_read_gbps);
  j.key("memory_read_gbps").value(r.limits.memory_read_gbps);
  j.key("fresh_write_gbps").value(r.limits.fresh_write_gbps);
  j.end_object();
  j.key("results").begin_array();
  for (const auto& x : r.results) {
    j.begin_object();
    j.key("strategy").value(x.strategy);
    j.key("cache").value(x.cold ? "cold" : "warm");
    j.key("load_ms").value(x.median.load_ms);
    j.key("ttfr_ms").value(x.median.ttfr_ms);
    j.key("gbps").value(gbps(r.file_bytes, x.median.ttfr_ms));
    j.key("checksum").value(hex(x.median.checksum));
    j.key("checksums_agree").value(x.checksums_agree);
    j.key("peak_rss_kib").value(x.median.peak_rss_kib);
    j.key("anon_kib").value(x.median.anon_kib);
    j.key("page_cache_bytes").value(x.median.page_cache_bytes);
    j.key("residency_before").value(x.median.residency_before);
    j.key("bound_ms").value(x.bound_ms);
    j.key("ttfr_over_bound").value(x.bound_ms > 0 ? x.median.ttfr_ms / x.bound_ms : 0.0);
    j.end_object();
  }
  j.end_array();
  j.key("checksums_agree").value(all_checksums_agree(r));
  j.end_object();
  return j.str() + "\n";
}

Status bench_plot(const BenchReport& r, const std::string& png_path) {
  // A folder of our own for gnuplot's input (made by create_directory, which
  // fails rather than reuse one that exists).
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir;
  for (unsigned attempt = 0; dir.empty() && attempt < 100; ++attempt) {
    fs::path candidate = fs::temp_directory_path(ec) /
                         fmt::format("weightmap-plot-{:x}", std::random_device{}() ^ (attempt * 0x9e3779b9u));
    if (!ec && fs::create_directory(candidate, ec) && !ec) dir = candidate;
  }
  if (dir.empty()) return Error{png_path, {}, {}, "cannot create a temporary folder for the plot"};
  std::string data = (dir / "data.txt").string(), script = (dir / "plot.gp").string();
  {
    // One row per strategy: cold TTFR, warm TTFR, cold bound, warm bound (s).
    std::ofstream d(data);
    for (const auto& s : bench_strategies()) {
      double v[4] = {-1, -1, 0, 0};
      bool any = false;
      for (const auto& x : r.results) {
        if (x.strategy != s.name) continue;
        any = true;
        v[x.cold ? 0 : 1] = x.median.ttfr_ms / 1e3;
        v[x.cold ? 2 : 3] = x.bound_ms / 1e3;
      }
      if (any) d << s.name << ' ' << v[0] << ' ' << v[1] << ' ' << v[2] << ' ' << v[3] << '\n';
    }
  }
  {
    std::ofstream g(script);
    g << "set terminal pngcairo size 900,500 noenhanced\n"
      << "set output '" << png_path << "'\n"
      << fmt::format("set title 'weightmap bench: time to first result, {:.0f} MiB'\n",
                     mib(r.file_bytes))
      << "set ylabel 'seconds'\nset style data histograms\nset style histogram clustered gap 1\n"
      << "set style fill solid 0.8 border -1\nset boxwidth 0.9\nset yrange [0:*]\nset key top left\n"
      << "set grid ytics\n"
      << "plot '" << data << "' using ($2<0?0:$2):xtic(1) title 'cold TTFR', '' using ($3<0?0:$3) title 'warm TTFR', "
      << "'' using ($0-0.2):4 with points pt 7 ps 2 title 'cold bound (O_DIRECT read)', "
      << "'' using ($0+0.2):5 with points pt 5 ps 2 title 'warm bound (memory read / first-touch write)'\n";
  }
  auto gnuplot = run_child({"gnuplot", script}, {.search_path = true, .capture_stderr = true});
  fs::remove_all(dir, ec);
  if (!gnuplot)
    return Error{png_path, {}, {},
                 fmt::format("gnuplot failed{} (install it: apt-get install gnuplot-nox)",
                             gnuplot.error().code == ErrorCode::kNotFound ? ": not found" : ": " + gnuplot.error().message)};
  if (!gnuplot->ok())
    return Error{png_path, {}, {},
                 fmt::format("gnuplot failed{}", gnuplot->err.empty() ? "" : ": " + gnuplot->err.substr(0, 512))};
  return {};
}

}  // namespace wm::cli
