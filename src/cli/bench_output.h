// `weightmap bench` results: a table for people, JSON for tools, and a PNG
// bar chart (through gnuplot) of time to first result per strategy with the
// bound drawn.
#pragma once

#include <string>

#include "cli/bench_runner.h"
#include "common/error.h"

namespace wm::cli {

std::string bench_text(const BenchReport& r);
std::string bench_json(const BenchReport& r);
Status bench_plot(const BenchReport& r, const std::string& png_path);

}  // namespace wm::cli
