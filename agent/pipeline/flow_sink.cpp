#include "pipeline/flow_sink.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "common/clock.h"

namespace netguard::pipeline {

FlowSink::FlowSink(store::Store& store, StreamNotifier& notifier,
                   std::chrono::nanoseconds loss_memory)
    : store_(store), notifier_(notifier), loss_memory_(loss_memory) {}

FlowSink::~FlowSink() = default;

void FlowSink::AddDetector(std::unique_ptr<detect::Detector> detector) {
  std::lock_guard lock(mu_);
  detectors_.push_back(std::move(detector));
}

void FlowSink::AddObserver(AlertObserver* observer) {
  std::lock_guard lock(observe_mu_);
  observers_.push_back(observer);
}

void FlowSink::FlowStarted(const FlowRecord& flow) {
  counters_.flows_started.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(mu_);
    for (auto& detector : detectors_) detector->OnFlowStart(flow, *this);
    if (committed_.empty()) return;
  }
  DeliverCommitted();
}

void FlowSink::FlowFinished(FlowRecord flow) {
  counters_.flows_finished.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(mu_);
    for (auto& detector : detectors_) detector->OnFlowEnd(flow, *this);
    pending_.push_back(std::move(flow));
    if (committed_.empty()) return;
  }
  DeliverCommitted();
}

void FlowSink::FlowOpen(const FlowRecord& flow, int64_t now_ns) {
  {
    std::lock_guard lock(mu_);
    for (auto& detector : detectors_) detector->OnFlowOpen(flow, now_ns, *this);
    if (committed_.empty()) return;
  }
  DeliverCommitted();
}

void FlowSink::PacketSampled(const PacketSample& sample) {
  counters_.packet_samples.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(mu_);
    for (auto& detector : detectors_) detector->OnPacketSample(sample, *this);
    if (committed_.empty()) return;
  }
  DeliverCommitted();
}

void FlowSink::Tick(int64_t now_ns) {
  {
    std::lock_guard lock(mu_);
    for (auto& detector : detectors_) detector->OnTick(now_ns);
    if (committed_.empty()) return;
  }
  DeliverCommitted();
}

void FlowSink::DeliverCommitted() {
  // The batch is taken under observe_mu_: a later batch (another thread's) waits until this one
  // was delivered, so observers see alerts in the order they were committed.
  std::lock_guard observe_lock(observe_mu_);
  std::vector<Alert> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(committed_);
  }
  for (const Alert& alert : batch) {
    for (AlertObserver* observer : observers_) {
      try {
        observer->OnAlert(alert);
      } catch (const std::exception& e) {
        spdlog::error("alert {}: observer failed: {}", alert.id, e.what());
      }
    }
  }
}

void FlowSink::Flush() {
  std::lock_guard flush_lock(flush_mu_);
  std::vector<FlowRecord> flows;
  {
    std::lock_guard lock(mu_);
    for (auto& detector : detectors_) detector->Flush(*this);  // batched verdicts first
    flows.swap(pending_);
  }
  DeliverCommitted();  // what the batching detectors (ML) raised
  if (flows.empty()) return;
  try {
    store_.AddFlows(flows);
    notifier_.PublishFlows(flows.back().id);
  } catch (const std::exception& e) {
    spdlog::error("storing {} flows failed: {}", flows.size(), e.what());
  }
}

void FlowSink::Emit(Alert alert) {
  const int64_t last_loss = counters_.last_loss_ns.load();
  alert.degraded_coverage = last_loss != 0 && alert.time_ns - last_loss < loss_memory_.count();
  try {
    store_.AddAlert(alert);  // committed before anyone can stream it
  } catch (const std::exception& e) {
    spdlog::error("storing a {} alert failed: {}", alert.alert_class, e.what());
    return;
  }
  counters_.alerts.fetch_add(1, std::memory_order_relaxed);
  notifier_.PublishAlert(alert.id);
  spdlog::info("alert {}: {} {} -> {} ({}, {})", alert.id, alert.alert_class, alert.src_addr,
               alert.dst_addr, ToString(alert.severity), alert.mitre_technique);
  committed_.push_back(std::move(alert));  // for the observers, once the detector returned
}

}  // namespace netguard::pipeline
