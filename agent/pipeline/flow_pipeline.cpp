#include "pipeline/flow_pipeline.h"

#include <spdlog/spdlog.h>

#include "capture/bpf_stats.h"

namespace netguard::pipeline {
namespace {

FlowEndReason ToEndReason(uint8_t reason) {
  switch (reason) {
    case NG_REASON_FIN:
      return FlowEndReason::kFin;
    case NG_REASON_RST:
      return FlowEndReason::kRst;
    default:
      return FlowEndReason::kActiveTimeout;
  }
}

}  // namespace

FlowPipeline::FlowPipeline(capture::EbpfDataPlane& dataplane, FlowSink& sink,
                           PipelineOptions options)
    : FlowPipeline(dataplane, nullptr, &sink, options) {}

FlowPipeline::FlowPipeline(capture::EbpfDataPlane& dataplane, store::Store& store,
                           StreamNotifier& notifier, PipelineOptions options)
    : FlowPipeline(dataplane, std::make_unique<FlowSink>(store, notifier, options.loss_memory),
                   nullptr, options) {}

FlowPipeline::FlowPipeline(capture::EbpfDataPlane& dataplane, std::unique_ptr<FlowSink> own_sink,
                           FlowSink* sink, PipelineOptions options)
    : dataplane_(dataplane),
      own_sink_(std::move(own_sink)),
      sink_(sink ? *sink : *own_sink_),
      counters_(sink_.counters()),
      options_(options),
      flows_(dataplane.flows_fd()) {
  ring_ = std::make_unique<capture::RingReader>(
      dataplane.events_fd(),
      capture::RingHandlers{.on_flow_start = [this](const ng_flow_event& e) { OnFlowEvent(e); },
                            .on_flow_end = [this](const ng_flow_event& e) { OnFlowEvent(e); },
                            .on_sample = [this](const ng_packet_sample& s) { OnSample(s); }});
}

FlowPipeline::~FlowPipeline() = default;

FlowRecord FlowPipeline::ToRecord(const ng_flow_key& key, const ng_flow& flow) const {
  FlowRecord record;
  record.key = key;
  record.acc = flow;
  record.start_ns = to_wall_(flow.first_ts_ns);
  record.end_ns = to_wall_(flow.last_ts_ns);
  return record;
}

void FlowPipeline::OnFlowEvent(const ng_flow_event& event) {
  FlowRecord record = ToRecord(event.key, event.flow);
  record.ifindex = event.hdr.ifindex;
  if (event.hdr.type == NG_REC_FLOW_START) {
    sink_.FlowStarted(record);
    return;
  }
  record.end_reason = ToEndReason(event.hdr.reason);
  sink_.FlowFinished(std::move(record));
}

void FlowPipeline::OnSample(const ng_packet_sample& record) {
  PacketSample sample;
  // A frame that does not parse still carries its flow key and length: detectors get it.
  DecodePacketSample(record, to_wall_(record.hdr.ts_ns), sample);
  sink_.PacketSampled(sample);
}

void FlowPipeline::Sweep(bool everything) {
  const int64_t now = MonotonicNowNs();
  const int64_t wall_now = WallNowNs();
  const int64_t idle = options_.idle_timeout.count();
  const int64_t active = options_.active_timeout.count();
  for (const capture::FlowEntry& entry : flows_.Snapshot()) {
    const ng_flow& f = entry.flow;
    const int64_t since_last = now - static_cast<int64_t>(f.last_ts_ns);
    const int64_t since_first = now - static_cast<int64_t>(f.first_ts_ns);
    if (f.state != NG_FLOW_ACTIVE) {
      // ended by FIN/RST and already reported: reclaim the entry once it has gone quiet
      if (everything || since_last > idle) flows_.Take(entry.key);
      continue;
    }
    FlowEndReason reason;
    if (everything) {
      reason = FlowEndReason::kShutdown;
    } else if (since_last > idle) {
      reason = FlowEndReason::kIdleTimeout;
      counters_.flows_swept_idle.fetch_add(1, std::memory_order_relaxed);
    } else if (since_first > active) {
      reason = FlowEndReason::kActiveTimeout;
      counters_.flows_swept_active.fetch_add(1, std::memory_order_relaxed);
    } else {
      sink_.FlowOpen(ToRecord(entry.key, f), wall_now);  // long-lived flows, while they last
      continue;
    }
    // Take the entry atomically: the snapshot read above may be older than the map's value.
    std::optional<ng_flow> taken = flows_.Take(entry.key);
    if (!taken || taken->state != NG_FLOW_ACTIVE) continue;
    FlowRecord record = ToRecord(entry.key, *taken);
    record.end_reason = reason;
    sink_.FlowFinished(std::move(record));
  }
  sink_.Tick(wall_now);
}

void FlowPipeline::CheckLoss() {
  const capture::StatCounters stats = capture::ReadStats(dataplane_.stats_fd());
  const uint64_t drops = stats[NG_STAT_RING_DROPS];
  const uint64_t insert_failed = stats[NG_STAT_FLOW_INSERT_FAILED];
  const uint64_t malformed = ring_->malformed();
  if (drops > counters_.ring_drops || insert_failed > counters_.flow_insert_failed ||
      malformed > counters_.malformed_records) {
    spdlog::warn("data plane loss: ring drops {}, flow inserts refused {}, bad records {}",
                 drops - counters_.ring_drops, insert_failed - counters_.flow_insert_failed,
                 malformed - counters_.malformed_records);
    sink_.NoteLoss(WallNowNs());
  }
  counters_.ring_drops = drops;
  counters_.flow_insert_failed = insert_failed;
  counters_.malformed_records = malformed;
}

void FlowPipeline::Run(std::stop_token stop) {
  // Counters pinned by a previous agent are history, not loss of this one.
  const capture::StatCounters baseline = capture::ReadStats(dataplane_.stats_fd());
  counters_.ring_drops = baseline[NG_STAT_RING_DROPS];
  counters_.flow_insert_failed = baseline[NG_STAT_FLOW_INSERT_FAILED];

  auto next_sweep = std::chrono::steady_clock::now() + options_.sweep_interval;
  while (!stop.stop_requested()) {
    ring_->Poll(std::chrono::milliseconds(10));
    if (std::chrono::steady_clock::now() >= next_sweep) {
      Sweep(false);
      CheckLoss();
      next_sweep = std::chrono::steady_clock::now() + options_.sweep_interval;
    }
    sink_.Flush();
  }
  ring_->Drain();
  Sweep(true);
  sink_.Flush();
}

}  // namespace netguard::pipeline
