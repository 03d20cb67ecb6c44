// AgentStatus: what GetStatus reports, assembled by the agent from its parts.
#ifndef NETGUARD_AGENT_CORE_STATUS_H_
#define NETGUARD_AGENT_CORE_STATUS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace netguard {

struct InterfaceStatus {
  std::string name;
  int ifindex = 0;
  std::string backend;   // "ebpf", "pcap-live", "pcap-file"
  std::string xdp_mode;  // "native", "generic"
  bool tc_egress = false;
};

struct AgentStatus {
  std::string version;
  int64_t started_ns = 0;
  std::vector<InterfaceStatus> interfaces;
  std::vector<std::pair<std::string, uint64_t>> counters;  // data plane and pipeline, by name
  uint64_t ring_drops = 0;
  uint64_t flow_insert_failures = 0;
  uint64_t queue_overflows = 0;
  uint64_t flows_evicted = 0;
  bool coverage_degraded = false;
  std::string active_model;
  uint64_t stored_flows = 0;
  uint64_t active_blocks = 0;
};

/// Produces a fresh status; called from API threads.
using StatusProvider = std::function<AgentStatus()>;

}  // namespace netguard

#endif  // NETGUARD_AGENT_CORE_STATUS_H_
