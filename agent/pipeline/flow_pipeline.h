// The flow pipeline: data plane records -> FlowRecords -> detectors, store and alert streams.
#ifndef NETGUARD_AGENT_PIPELINE_FLOW_PIPELINE_H_
#define NETGUARD_AGENT_PIPELINE_FLOW_PIPELINE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <vector>

#include "capture/ebpf_dataplane.h"
#include "capture/flow_table.h"
#include "capture/ring_reader.h"
#include "common/clock.h"
#include "detect/detector.h"
#include "pipeline/stream_notifier.h"
#include "store/store.h"

namespace netguard::pipeline {

struct PipelineOptions {
  std::chrono::nanoseconds idle_timeout = std::chrono::seconds(30);
  std::chrono::nanoseconds active_timeout = std::chrono::seconds(120);
  std::chrono::milliseconds sweep_interval{1000};
  // An alert is marked "degraded coverage" when the data plane lost records this recently.
  std::chrono::nanoseconds loss_memory = std::chrono::seconds(60);
};

/// Counters of the pipeline, readable from any thread.
struct PipelineCounters {
  std::atomic<uint64_t> flows_started{0};
  std::atomic<uint64_t> flows_finished{0};
  std::atomic<uint64_t> flows_swept_idle{0};
  std::atomic<uint64_t> flows_swept_active{0};
  std::atomic<uint64_t> alerts{0};
  std::atomic<uint64_t> malformed_records{0};
  std::atomic<uint64_t> ring_drops{0};          // kernel: ring reserve failures
  std::atomic<uint64_t> flow_insert_failed{0};  // kernel: flow map refused an entry
  std::atomic<int64_t> last_loss_ns{0};         // wall clock of the last observed loss, 0 = none
};

/// Runs on one thread: drains the ring buffer, sweeps the flow map for idle and active timeouts,
/// hands every flow start and finish to the detectors, commits alerts to the store (then
/// publishes them to the streams) and stores finished flows in the bounded history.
class FlowPipeline : private detect::AlertSink {
 public:
  FlowPipeline(capture::EbpfDataPlane& dataplane, store::Store& store, StreamNotifier& notifier,
               PipelineOptions options);
  ~FlowPipeline() override;

  /// Detectors are called in the order added; add before Run().
  void AddDetector(std::unique_ptr<detect::Detector> detector);
  /// Runs detector code under the pipeline's lock (for reconfiguration from other threads).
  template <typename F>
  void WithDetectors(F&& f) {
    std::lock_guard lock(mu_);
    f(detectors_);
  }

  /// Loops until `stop` is requested, then finishes every flow still in the map (reason
  /// shutdown) so nothing counted is lost.
  void Run(std::stop_token stop);

  const PipelineCounters& counters() const { return counters_; }

 private:
  void Emit(Alert alert) override;
  void OnFlowEvent(const ng_flow_event& event);
  void Sweep(bool everything);
  void Finish(FlowRecord record);
  void FlushFlows();
  void CheckLoss();
  FlowRecord ToRecord(const ng_flow_key& key, const ng_flow& flow) const;

  capture::EbpfDataPlane& dataplane_;
  store::Store& store_;
  StreamNotifier& notifier_;
  PipelineOptions options_;
  MonotonicToWall to_wall_;
  capture::FlowTable flows_;
  std::unique_ptr<capture::RingReader> ring_;
  std::mutex mu_;  // detectors_
  std::vector<std::unique_ptr<detect::Detector>> detectors_;
  std::vector<FlowRecord> finished_;  // to store at the end of the iteration
  PipelineCounters counters_;
};

}  // namespace netguard::pipeline

#endif  // NETGUARD_AGENT_PIPELINE_FLOW_PIPELINE_H_
