#include "pipeline/stream_notifier.h"

#include <algorithm>

namespace netguard::pipeline {

void StreamNotifier::PublishAlert(int64_t id) {
  {
    std::lock_guard lock(mu_);
    last_alert_ = std::max(last_alert_, id);
  }
  cv_.notify_all();
}

void StreamNotifier::PublishFlows(int64_t id) {
  {
    std::lock_guard lock(mu_);
    last_flow_ = std::max(last_flow_, id);
  }
  cv_.notify_all();
}

int64_t StreamNotifier::WaitAlert(int64_t after_id, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return closed_ || last_alert_ > after_id; });
  return last_alert_;
}

int64_t StreamNotifier::WaitFlows(int64_t after_id, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return closed_ || last_flow_ > after_id; });
  return last_flow_;
}

void StreamNotifier::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool StreamNotifier::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

}  // namespace netguard::pipeline
