// `weightmap run` results for people and for tools (--json).
#pragma once

#include <string>
#include <vector>

#include "cli/run_stage.h"

namespace wm::cli {

struct RunSummary {
  std::vector<StageResult> stages;
  uint64_t file_bytes = 0;
  double load_ms = 0;       // summed over stages
  double ttfr_ms = 0;       // process start to the last stage's weights used
  uint64_t checksum = 0;
  uint64_t peak_rss_kib = 0;
};

std::string run_text(const RunSummary& s);
std::string run_json(const RunSummary& s);

}  // namespace wm::cli
