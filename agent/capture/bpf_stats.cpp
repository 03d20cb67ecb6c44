#include "capture/bpf_stats.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <vector>

#include "common/system_error.h"

namespace netguard::capture {
namespace {

constexpr std::array<std::string_view, NG_STAT_COUNT> kNames = {
    "xdp_packets",
    "xdp_passed",
    "xdp_dropped",
    "xdp_dropped_bytes",
    "tc_packets",
    "non_ip",
    "arp",
    "ip_fragments",
    "flows_started",
    "flows_ended_fin",
    "flows_ended_rst",
    "flows_ended_timeout",
    "flow_insert_failed",
    "ring_drops",
    "samples",
    "parse_error.eth_truncated",
    "parse_error.vlan_truncated",
    "parse_error.arp_truncated",
    "parse_error.ipv4_truncated",
    "parse_error.ipv4_bad_header",
    "parse_error.ipv4_bad_length",
    "parse_error.ipv6_truncated",
    "parse_error.ipv6_bad_length",
    "parse_error.ipv6_ext_truncated",
    "parse_error.ipv6_ext_limit",
    "parse_error.tcp_truncated",
    "parse_error.tcp_bad_offset",
    "parse_error.udp_truncated",
    "parse_error.icmp_truncated",
};

}  // namespace

StatCounters ReadStats(int fd) {
  const int cpus = CheckErrno(libbpf_num_possible_cpus(), "count possible CPUs");
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  StatCounters totals{};
  for (uint32_t stat = 0; stat < NG_STAT_COUNT; ++stat) {
    if (bpf_map_lookup_elem(fd, &stat, per_cpu.data()) != 0) {
      ThrowErrno(errno, "read stat " + std::string(kNames[stat]));
    }
    for (uint64_t v : per_cpu) totals[stat] += v;
  }
  return totals;
}

std::string_view StatName(uint32_t stat) { return stat < kNames.size() ? kNames[stat] : "unknown"; }

}  // namespace netguard::capture
