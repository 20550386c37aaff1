// Asynchronous uploads on a ggml backend: ggml_backend_tensor_set_async on
// the backend's stream, each followed by a backend event; a completion
// thread waits for the events in turn and only then reports the upload done,
// so weightmap reuses a staging slot only once its copy has read it.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <ggml-backend.h>

#include "weightmap/device.hpp"
#include "weightmap/log.hpp"

namespace wm::ggml {

class AsyncUploads {
 public:
  // nullptr, with the reason logged, when `backend` cannot: no asynchronous
  // copies or no events (ggml_backend_dev_props), or it does not use
  // `buffer_type`.
  static std::unique_ptr<AsyncUploads> make(ggml_backend_t backend, ggml_backend_buffer_type_t buffer_type,
                                            const std::string& device, const Logger& log);
  explicit AsyncUploads(ggml_backend_t backend);
  ~AsyncUploads();
  AsyncUploads(const AsyncUploads&) = delete;
  AsyncUploads& operator=(const AsyncUploads&) = delete;

  // Starts copying src[0, n) to `tensor` at `offset`; `done` runs once the
  // copy has finished. From any number of threads.
  void submit(ggml_tensor* tensor, uint64_t offset, const std::byte* src, uint64_t n, UploadDone done);
  // Blocks until every upload submitted so far is done.
  void wait_all();

 private:
  void complete_loop();
  ggml_backend_event_t take_event();

  ggml_backend_t backend_;
  std::mutex stream_mu_;  // a backend's stream takes one thread at a time
  std::mutex mu_;
  std::condition_variable work_, idle_;
  std::deque<std::pair<ggml_backend_event_t, UploadDone>> pending_;
  std::vector<ggml_backend_event_t> spare_;  // events whose upload is done, to record again
  size_t outstanding_ = 0;                   // submitted, `done` not yet run
  bool stop_ = false;
  std::thread completer_;
};

}  // namespace wm::ggml
