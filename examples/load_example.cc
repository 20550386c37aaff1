// The C++ API in a few lines: open, plan + load, look up a tensor, release.
// Built with the project (target load_example) so it cannot rot; the README
// shows the same code.
//   load_example MODEL_PATH [TENSOR_NAME]
#include <cstdio>

#include "format/model_path.h"
#include "load/loader.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: load_example MODEL_PATH [TENSOR_NAME]\n");
    return 2;
  }
  wm::Logger log([](wm::LogLevel level, std::string_view msg) {
    std::fprintf(stderr, "[%s] %.*s\n", wm::to_string(level), static_cast<int>(msg.size()), msg.data());
  });

  // 1. Parse headers (no tensor data is read).
  auto table = wm::open_model({argv[1]}, {log, {}});
  if (!table) {
    std::fprintf(stderr, "%s\n", table.error().to_string().c_str());
    return 1;
  }
  // 2. Plan and load: mapped where the bytes are usable in place. The
  //    default hints (auto) prefetch a cold file in parallel, in the
  //    background, and leave a warm one alone.
  wm::LoadOptions options;
  options.log = log;
  options.prefetch = wm::PrefetchMode::kBackground;
  auto rules = wm::NameRules::parse("*=cpu");  // e.g. "text_encoder.*=cpu,*=sim"
  if (rules) options.plan.device_rules = std::move(rules.value());
  auto model = wm::load_model(std::move(table.value()), options);
  if (!model) {
    std::fprintf(stderr, "%s\n", model.error().to_string().c_str());
    return 1;
  }
  // 3. Look up a tensor: its bytes are at host_data (a pointer into the
  //    mapping when placement is Map).
  const char* name = argc > 2 ? argv[2] : model->tensors().front().name.c_str();
  if (const wm::LoadedTensor* t = model->find(name)) {
    // Before touching its bytes, wait until the prefetch has read them in
    // (an error names the file if they could not be read).
    if (wm::Status s = model->wait_ready(static_cast<size_t>(t - model->tensors().data())); !s) {
      std::fprintf(stderr, "%s\n", s.error().to_string().c_str());
      return 1;
    }
    std::printf("%s: %s, %llu bytes, %s%s%s\n", t->name.c_str(), wm::dtype_name(t->dtype),
                static_cast<unsigned long long>(t->nbytes), wm::placement_name(t->placement),
                t->reason.empty() ? "" : " because ", t->reason.c_str());
  }
  std::printf("mapped %llu of %llu bytes\n", static_cast<unsigned long long>(model->report().bytes_mapped),
              static_cast<unsigned long long>(model->report().bytes_total));
  // 4. Release: unmaps the files and frees every buffer; evict = true also
  //    drops the files from the page cache (for the next component's room).
  if (wm::Status s = model->release(/*evict=*/true); !s) std::fprintf(stderr, "%s\n", s.error().to_string().c_str());
  return 0;
}
