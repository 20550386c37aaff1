// The C++ API in a few lines: open, look up a tensor, wait for its bytes,
// release. Built with the project (target load_example) so it cannot rot;
// the README shows the same code.
//   load_example MODEL_PATH [TENSOR_NAME]
#include <cstdio>

#include <weightmap/weightmap.hpp>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: load_example MODEL_PATH [TENSOR_NAME]\n");
    return 2;
  }
  wm::Options options;
  options.log = [](wm::LogLevel level, std::string_view msg) {
    std::fprintf(stderr, "[%s] %.*s\n", wm::to_string(level), static_cast<int>(msg.size()), msg.data());
  };
  // Mapped where the bytes are usable in place. The default hints (auto)
  // prefetch a cold file in the background and leave a warm one alone.
  options.device_rules = "*=cpu";  // e.g. "text_encoder.*=cpu,*=sim", or your own wm::Device's name
  auto model = wm::open(argv[1], options);
  if (!model) {
    std::fprintf(stderr, "%s (%s)\n", model.error().to_string().c_str(), wm::error_code_name(model.error().code));
    return 1;
  }
  // A tensor's bytes are at host_data: a pointer into the mapping when
  // placement is Map. Wait for the prefetch before touching them.
  auto index = argc > 2 ? model->index_of(argv[2]) : std::optional<size_t>(0);
  if (index && *index < model->size()) {
    const wm::Tensor& t = model->tensor(*index);
    if (wm::Status s = model->wait_ready(*index); !s) {
      std::fprintf(stderr, "%s\n", s.error().to_string().c_str());
      return 1;
    }
    std::printf("%s: %s, %llu bytes, %s%s%s\n", t.name.c_str(), wm::dtype_name(t.dtype),
                static_cast<unsigned long long>(t.nbytes), wm::placement_name(t.placement),
                t.reason.empty() ? "" : " because ", t.reason.c_str());
  }
  const wm::LoadReport report = model->report();
  std::printf("mapped %llu of %llu bytes\n", static_cast<unsigned long long>(report.bytes_mapped),
              static_cast<unsigned long long>(report.bytes_total));
  // Release: unmaps the files and frees every buffer; evict = true also
  // drops the files from the page cache (room for the next component).
  if (wm::Status s = model->release(/*evict=*/true); !s) std::fprintf(stderr, "%s\n", s.error().to_string().c_str());
  return 0;
}
