// The one interface every detector (rules, ML) implements.
#ifndef NETGUARD_AGENT_DETECT_DETECTOR_H_
#define NETGUARD_AGENT_DETECT_DETECTOR_H_

#include <cstdint>
#include <string_view>

#include "core/alert.h"
#include "core/flow_record.h"
#include "core/packet_sample.h"

namespace netguard::detect {

/// Where detectors put their verdicts. The pipeline commits each alert to the store before
/// anything streams it.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void Emit(Alert alert) = 0;
};

/// A detector sees every flow when it starts (the first packet, for fast signals such as scans),
/// at every sweep while it stays open (for long-lived flows) and when it finishes (the full
/// accumulators, for classification). Calls come from the
/// pipeline thread, in the order the data plane reported them; implementations need no locking
/// of their own state.
class Detector {
 public:
  virtual ~Detector() = default;
  /// Stable name used in alerts ("rule.port_scan", "ml.xgboost", ...).
  virtual std::string_view name() const = 0;
  /// A flow started; `flow.acc` holds its first packet.
  virtual void OnFlowStart(const FlowRecord& flow, AlertSink& sink) = 0;
  /// A flow finished (FIN, RST, timeout or shutdown).
  virtual void OnFlowEnd(const FlowRecord& flow, AlertSink& sink) = 0;
  /// A flow still open at a sweep (`now_ns`, wall clock); `flow.acc` holds its counts so far.
  /// Long-lived flows are seen this way at every sweep until they finish.
  virtual void OnFlowOpen(const FlowRecord& flow, int64_t now_ns, AlertSink& sink) {
    (void)flow;
    (void)now_ns;
    (void)sink;
  }
  /// Periodic call (every sweep) with the wall-clock time, for window bookkeeping.
  virtual void OnTick(int64_t now_ns) { (void)now_ns; }
  /// End of a sweep, and when capture stops: a detector that batches finished flows (ML)
  /// classifies what it holds and emits now.
  virtual void Flush(AlertSink& sink) { (void)sink; }
  /// A sampled packet (first packets of a flow, DNS queries, ARP, 1-in-K); most detectors
  /// ignore them.
  virtual void OnPacketSample(const PacketSample& sample, AlertSink& sink) {
    (void)sample;
    (void)sink;
  }
};

}  // namespace netguard::detect

#endif  // NETGUARD_AGENT_DETECT_DETECTOR_H_
