#include "async_uploads.h"

namespace wm::ggml {

std::unique_ptr<AsyncUploads> AsyncUploads::make(ggml_backend_t backend, ggml_backend_buffer_type_t buffer_type,
                                                 const std::string& device, const Logger& log) {
  if (backend == nullptr) return nullptr;
  auto sync = [&](const std::string& why) {
    log.info("ggml device '" + device + "': uploads are synchronous (ggml_backend_tensor_set): " + why);
    return nullptr;
  };
  ggml_backend_dev_t dev = ggml_backend_get_device(backend);
  if (dev == nullptr) return sync(std::string("backend ") + ggml_backend_name(backend) + " has no device to ask");
  ggml_backend_dev_props props{};
  ggml_backend_dev_get_props(dev, &props);
  if (!props.caps.async) return sync(std::string("backend ") + ggml_backend_name(backend) + " offers no asynchronous copies");
  if (!props.caps.events) return sync(std::string("backend ") + ggml_backend_name(backend) + " offers no events");
  if (!ggml_backend_supports_buft(backend, buffer_type)) {
    return sync(std::string("backend ") + ggml_backend_name(backend) + " does not use buffer type " +
                ggml_backend_buft_name(buffer_type));
  }
  log.info("ggml device '" + device + "': uploads are asynchronous on backend " + ggml_backend_name(backend));
  return std::make_unique<AsyncUploads>(backend);
}

AsyncUploads::AsyncUploads(ggml_backend_t backend) : backend_(backend), completer_([this] { complete_loop(); }) {}

AsyncUploads::~AsyncUploads() {
  wait_all();
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_.notify_all();
  completer_.join();
  for (ggml_backend_event_t e : spare_) ggml_backend_event_free(e);
}

ggml_backend_event_t AsyncUploads::take_event() {
  {
    std::lock_guard lock(mu_);
    if (!spare_.empty()) {
      ggml_backend_event_t e = spare_.back();
      spare_.pop_back();
      return e;
    }
  }
  return ggml_backend_event_new(ggml_backend_get_device(backend_));
}

void AsyncUploads::submit(ggml_tensor* tensor, uint64_t offset, const std::byte* src, uint64_t n, UploadDone done) {
  ggml_backend_event_t event = take_event();
  if (event == nullptr) {  // the backend ran out of events: this one copy is made synchronously
    std::lock_guard stream(stream_mu_);
    ggml_backend_synchronize(backend_);
    ggml_backend_tensor_set(tensor, src, offset, n);
    done(Status{});
    return;
  }
  {
    std::lock_guard lock(mu_);
    ++outstanding_;
  }
  {
    std::lock_guard stream(stream_mu_);
    ggml_backend_tensor_set_async(backend_, tensor, src, offset, n);
    ggml_backend_event_record(event, backend_);
  }
  {
    std::lock_guard lock(mu_);
    pending_.emplace_back(event, std::move(done));
  }
  work_.notify_one();
}

void AsyncUploads::complete_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_.wait(lock, [&] { return stop_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stop_, and nothing left
    auto [event, done] = std::move(pending_.front());
    pending_.pop_front();
    lock.unlock();
    ggml_backend_event_synchronize(event);  // the copy has read its source
    done(Status{});
    lock.lock();
    spare_.push_back(event);
    if (--outstanding_ == 0) idle_.notify_all();
  }
}

void AsyncUploads::wait_all() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [&] { return outstanding_ == 0; });
}

}  // namespace wm::ggml
