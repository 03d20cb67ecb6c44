// Port-scan rule: one source reaching many distinct destination ports within a sliding window.
#ifndef NETGUARD_AGENT_DETECT_PORT_SCAN_H_
#define NETGUARD_AGENT_DETECT_PORT_SCAN_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <string>
#include <unordered_map>

#include "detect/detector.h"

namespace netguard::detect {

struct PortScanOptions {
  uint32_t distinct_ports = 25;
  std::chrono::seconds window{60};
  size_t max_sources = 65536;  // tracked sources; the least recently active are evicted
};

/// Counts distinct (destination address, destination port) pairs that each source opens flows
/// to (TCP and UDP) within `window`. Reaching `distinct_ports` raises one PortScan alert (MITRE
/// ATT&CK T1046) for that source; it raises again only after a full window without one.
class PortScanDetector final : public Detector {
 public:
  explicit PortScanDetector(PortScanOptions options);

  std::string_view name() const override { return "rule.port_scan"; }
  void OnFlowStart(const FlowRecord& flow, AlertSink& sink) override;
  void OnFlowEnd(const FlowRecord&, AlertSink&) override {}
  void OnTick(int64_t now_ns) override;

  void set_options(const PortScanOptions& options) { options_ = options; }
  size_t tracked_sources() const { return sources_.size(); }
  uint64_t evicted_sources() const { return evicted_; }

 private:
  struct Probe {
    int64_t time_ns;
    std::string target;  // "addr:port"
  };
  struct Source {
    std::deque<Probe> probes;                        // in time order, within the window
    std::unordered_map<std::string, uint32_t> open;  // target -> probes in the window
    int64_t alerted_ns = 0;                          // last alert time, 0 = never
    std::list<std::string>::iterator lru;
  };

  void Expire(Source& source, int64_t now_ns);
  int64_t window_ns() const;

  PortScanOptions options_;
  std::unordered_map<std::string, Source> sources_;
  std::list<std::string> lru_;  // most recently active first
  uint64_t evicted_ = 0;
};

}  // namespace netguard::detect

#endif  // NETGUARD_AGENT_DETECT_PORT_SCAN_H_
