// Wakes alert and flow streams when something new is committed to the store.
#ifndef NETGUARD_AGENT_PIPELINE_STREAM_NOTIFIER_H_
#define NETGUARD_AGENT_PIPELINE_STREAM_NOTIFIER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace netguard::pipeline {

/// A sequence number per kind (alerts, flows) that streams wait on. Streams read the store
/// from their last id after each wake-up, so a stream never misses a committed row and a
/// reconnecting client resumes from its last id.
class StreamNotifier {
 public:
  /// Called after alert `id` was committed.
  void PublishAlert(int64_t id);
  /// Called after flows up to `id` were committed.
  void PublishFlows(int64_t id);
  /// Blocks until an alert newer than `after_id` is committed or `timeout` passes; returns the
  /// newest alert id.
  int64_t WaitAlert(int64_t after_id, std::chrono::milliseconds timeout);
  int64_t WaitFlows(int64_t after_id, std::chrono::milliseconds timeout);
  /// Wakes every waiter (shutdown).
  void Close();
  bool closed() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t last_alert_ = 0;
  int64_t last_flow_ = 0;
  bool closed_ = false;
};

}  // namespace netguard::pipeline

#endif  // NETGUARD_AGENT_PIPELINE_STREAM_NOTIFIER_H_
