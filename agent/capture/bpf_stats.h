// The data plane's per-CPU counters (enum ng_stat), summed over CPUs.
#ifndef NETGUARD_AGENT_CAPTURE_BPF_STATS_H_
#define NETGUARD_AGENT_CAPTURE_BPF_STATS_H_

#include <array>
#include <cstdint>
#include <string_view>

#include "netguard.h"

namespace netguard::capture {

using StatCounters = std::array<uint64_t, NG_STAT_COUNT>;

/// Reads the per-CPU stats map `fd` and sums each counter over all possible CPUs.
/// Throws std::system_error.
StatCounters ReadStats(int fd);

/// Stable snake_case name of a counter, e.g. "xdp_dropped" or "parse_error.tcp_truncated".
std::string_view StatName(uint32_t stat);

}  // namespace netguard::capture

#endif  // NETGUARD_AGENT_CAPTURE_BPF_STATS_H_
