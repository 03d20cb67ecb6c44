// Port-scan rule: one source reaching many distinct destination ports within a sliding window.
#ifndef NETGUARD_AGENT_DETECT_PORT_SCAN_H_
#define NETGUARD_AGENT_DETECT_PORT_SCAN_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

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
  /// An address as the flow key holds it (family + 16 bytes), hashed without formatting.
  struct Address {
    std::array<uint32_t, 4> words{};
    uint8_t family = 0;
    friend bool operator==(const Address&, const Address&) = default;
  };
  struct Target {
    Address host;
    uint16_t port = 0;
    friend bool operator==(const Target&, const Target&) = default;
  };
  struct Hash {
    size_t operator()(const Address& a) const;
    size_t operator()(const Target& t) const;
  };
  struct Probe {
    int64_t time_ns;
    Target target;
  };
  struct Source {
    // In time order; [first, end) are within the window. A vector, not a deque: a deque's first
    // push allocates 512 bytes, per source, which a random-source flood multiplies.
    std::vector<Probe> probes;
    size_t first = 0;
    std::unordered_map<Target, uint32_t, Hash> open;  // target -> probes in the window
    int64_t alerted_ns = 0;                           // last alert time, 0 = never
    std::list<Address>::iterator lru;
  };

  void Alert(const FlowRecord& flow, const Source& source, int64_t now, AlertSink& sink) const;
  void Expire(Source& source, int64_t now_ns);
  int64_t window_ns() const;

  PortScanOptions options_;
  std::unordered_map<Address, Source, Hash> sources_;
  std::list<Address> lru_;  // most recently active first
  uint64_t evicted_ = 0;
};

}  // namespace netguard::detect

#endif  // NETGUARD_AGENT_DETECT_PORT_SCAN_H_
