// Helpers of the pcap/features tests: write captures with libpcap, run them through pcap-file
// and the user-space flow table, collect the flows.
#ifndef NETGUARD_TESTS_FEATURES_PCAP_TEST_UTIL_H_
#define NETGUARD_TESTS_FEATURES_PCAP_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "capture/pcap/flow_table.h"
#include "capture/pcap/pcap_source.h"
#include "core/flow_record.h"

namespace netguard::testing {

/// One frame of a generated capture.
struct TimedFrame {
  std::vector<uint8_t> frame;
  uint64_t ts_ns = 0;
};

/// Writes `frames` as a pcap file (Ethernet; microsecond or nanosecond timestamps).
void WritePcap(const std::string& path, const std::vector<TimedFrame>& frames,
               bool nanosecond = false);

/// Collects every flow a FlowTable reports.
class CollectFlows final : public capture::pcap::FlowEvents {
 public:
  void OnFlowStart(const FlowRecord& flow) override { started.push_back(flow); }
  void OnFlowEnd(const FlowRecord& flow) override { ended.push_back(flow); }
  void OnFlowOpen(const FlowRecord& flow, uint64_t now_ns) override {
    open.emplace_back(flow, now_ns);
  }
  std::vector<FlowRecord> started;
  std::vector<FlowRecord> ended;
  std::vector<std::pair<FlowRecord, uint64_t>> open;  // with the sweep's time
};

/// Reads `path` through pcap-file into a FlowTable with `options`, flushes it and returns the
/// flows in the order they ended. `result` receives how reading ended.
std::vector<FlowRecord> FlowsOfCapture(const std::string& path,
                                       const capture::pcap::FlowTableOptions& options,
                                       capture::pcap::ReadResult* result = nullptr);

/// A fresh path in a per-process temporary directory.
std::string TempPath(const std::string& name);

}  // namespace netguard::testing

#endif  // NETGUARD_TESTS_FEATURES_PCAP_TEST_UTIL_H_
