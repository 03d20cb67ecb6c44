// The eBPF flow pipeline: data plane records -> FlowRecords -> FlowSink (detectors, store,
// streams).
#ifndef NETGUARD_AGENT_PIPELINE_FLOW_PIPELINE_H_
#define NETGUARD_AGENT_PIPELINE_FLOW_PIPELINE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <utility>

#include "capture/ebpf_dataplane.h"
#include "capture/flow_table.h"
#include "capture/ring_reader.h"
#include "common/clock.h"
#include "detect/detector.h"
#include "pipeline/flow_sink.h"
#include "pipeline/stream_notifier.h"
#include "store/store.h"

namespace netguard::pipeline {

struct PipelineOptions {
  std::chrono::nanoseconds idle_timeout = std::chrono::seconds(30);
  std::chrono::nanoseconds active_timeout = std::chrono::seconds(120);
  std::chrono::milliseconds sweep_interval{1000};
  // An alert is marked "degraded coverage" when the data plane lost records this recently
  // (used when the pipeline makes its own FlowSink).
  std::chrono::nanoseconds loss_memory = std::chrono::seconds(60);
};

/// Runs on one thread: drains the ring buffer, sweeps the flow map for idle and active timeouts,
/// and hands every flow start and finish, and at each sweep every flow still open, to a FlowSink
/// (detectors, alerts, flow history).
class FlowPipeline {
 public:
  /// Hands flows to `sink`, which must outlive the pipeline.
  FlowPipeline(capture::EbpfDataPlane& dataplane, FlowSink& sink, PipelineOptions options);
  /// Makes and owns its FlowSink over `store` and `notifier`.
  FlowPipeline(capture::EbpfDataPlane& dataplane, store::Store& store, StreamNotifier& notifier,
               PipelineOptions options);
  ~FlowPipeline();

  /// Detectors are called in the order added; add before Run().
  void AddDetector(std::unique_ptr<detect::Detector> detector) {
    sink_.AddDetector(std::move(detector));
  }
  /// Runs detector code under the sink's lock (for reconfiguration from other threads).
  template <typename F>
  void WithDetectors(F&& f) {
    sink_.WithDetectors(std::forward<F>(f));
  }

  /// Loops until `stop` is requested, then finishes every flow still in the map (reason
  /// shutdown) so nothing counted is lost.
  void Run(std::stop_token stop);

  const PipelineCounters& counters() const { return sink_.counters(); }

 private:
  FlowPipeline(capture::EbpfDataPlane& dataplane, std::unique_ptr<FlowSink> own_sink,
               FlowSink* sink, PipelineOptions options);
  void OnFlowEvent(const ng_flow_event& event);
  void OnSample(const ng_packet_sample& record);
  void Sweep(bool everything);
  void CheckLoss();
  FlowRecord ToRecord(const ng_flow_key& key, const ng_flow& flow) const;

  capture::EbpfDataPlane& dataplane_;
  std::unique_ptr<FlowSink> own_sink_;  // only with the store/notifier constructor
  FlowSink& sink_;
  PipelineCounters& counters_;
  PipelineOptions options_;
  MonotonicToWall to_wall_;
  capture::FlowTable flows_;
  std::unique_ptr<capture::RingReader> ring_;
};

}  // namespace netguard::pipeline

#endif  // NETGUARD_AGENT_PIPELINE_FLOW_PIPELINE_H_
