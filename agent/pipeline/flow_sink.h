// Where every capture backend hands its flows: detectors, alerts (store, then streams) and the
// bounded flow history. Shared by the eBPF FlowPipeline and the pcap-live capture.
#ifndef NETGUARD_AGENT_PIPELINE_FLOW_SINK_H_
#define NETGUARD_AGENT_PIPELINE_FLOW_SINK_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/flow_record.h"
#include "detect/detector.h"
#include "pipeline/alert_observer.h"
#include "pipeline/stream_notifier.h"
#include "store/store.h"

namespace netguard::pipeline {

/// Counters of the flow path, readable from any thread.
struct PipelineCounters {
  std::atomic<uint64_t> flows_started{0};
  std::atomic<uint64_t> flows_finished{0};
  std::atomic<uint64_t> flows_swept_idle{0};
  std::atomic<uint64_t> flows_swept_active{0};
  std::atomic<uint64_t> alerts{0};
  std::atomic<uint64_t> malformed_records{0};
  std::atomic<uint64_t> packet_samples{0};
  std::atomic<uint64_t> ring_drops{0};          // kernel: ring reserve failures
  std::atomic<uint64_t> flow_insert_failed{0};  // kernel: flow map refused an entry
  std::atomic<int64_t> last_loss_ns{0};         // wall clock of the last observed loss, 0 = none
};

/// Hands every flow start and finish to the detectors (in the order added, one flow at a time),
/// commits their alerts to the store before publishing them to the streams, and keeps finished
/// flows until Flush() stores them in the bounded history. Thread-safe: the eBPF pipeline calls
/// it from one thread, pcap-live from one thread per interface.
class FlowSink : private detect::AlertSink {
 public:
  /// An alert is marked "degraded coverage" when capture lost packets or records less than
  /// `loss_memory` before it.
  FlowSink(store::Store& store, StreamNotifier& notifier,
           std::chrono::nanoseconds loss_memory = std::chrono::seconds(60));
  ~FlowSink() override;
  FlowSink(const FlowSink&) = delete;
  FlowSink& operator=(const FlowSink&) = delete;

  /// Detectors are called in the order added; add before flows arrive.
  void AddDetector(std::unique_ptr<detect::Detector> detector);
  /// Runs `f(detectors)` under the sink's lock (reconfiguration from other threads).
  template <typename F>
  void WithDetectors(F&& f) {
    std::lock_guard lock(mu_);
    f(detectors_);
  }

  /// Observers see every committed alert, in commit order, after the detector call that raised
  /// it returned (outside the detectors' lock); the observer must outlive the sink. Add before
  /// flows arrive.
  void AddObserver(AlertObserver* observer);

  /// A flow started (`flow.acc` holds its first packet).
  void FlowStarted(const FlowRecord& flow);
  /// A flow finished: detectors see it now, the store at the next Flush().
  void FlowFinished(FlowRecord flow);
  /// A flow still open at a sweep at wall-clock `now_ns`: every detector sees it.
  void FlowOpen(const FlowRecord& flow, int64_t now_ns);
  /// A sampled packet: every detector sees it.
  void PacketSampled(const PacketSample& sample);
  /// Periodic call with the wall-clock time (detectors' window bookkeeping).
  void Tick(int64_t now_ns);
  /// Lets batching detectors emit (Detector::Flush), stores the finished flows handed over
  /// since the last call and wakes the flow streams.
  void Flush();
  /// Capture lost something at wall-clock `now_ns` (alerts after it are marked degraded).
  void NoteLoss(int64_t now_ns) { counters_.last_loss_ns = now_ns; }

  PipelineCounters& counters() { return counters_; }
  const PipelineCounters& counters() const { return counters_; }

 private:
  void Emit(Alert alert) override;  // called by detectors, under mu_
  // Hands the alerts committed so far to the observers, in commit order (takes observe_mu_,
  // then mu_ briefly; never called with mu_ held).
  void DeliverCommitted();

  store::Store& store_;
  StreamNotifier& notifier_;
  std::chrono::nanoseconds loss_memory_;
  std::mutex mu_;  // detectors_, pending_
  std::vector<std::unique_ptr<detect::Detector>> detectors_;
  std::vector<FlowRecord> pending_;
  std::vector<Alert> committed_;  // under mu_: committed, not yet seen by the observers
  std::mutex observe_mu_;         // observers_; one delivery at a time, so commit order holds
  std::vector<AlertObserver*> observers_;
  std::mutex flush_mu_;  // store order == publish order
  PipelineCounters counters_;
};

}  // namespace netguard::pipeline

#endif  // NETGUARD_AGENT_PIPELINE_FLOW_SINK_H_
