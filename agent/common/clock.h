// Clocks: wall and monotonic nanoseconds, and the conversion the data plane needs.
#ifndef NETGUARD_AGENT_COMMON_CLOCK_H_
#define NETGUARD_AGENT_COMMON_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace netguard {

inline int64_t ClockNs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

/// Wall clock, ns since the Unix epoch.
inline int64_t WallNowNs() { return ClockNs(CLOCK_REALTIME); }
/// CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns().
inline int64_t MonotonicNowNs() { return ClockNs(CLOCK_MONOTONIC); }

/// Converts the data plane's CLOCK_MONOTONIC timestamps to wall clock, with the offset taken
/// when constructed.
class MonotonicToWall {
 public:
  MonotonicToWall() : offset_ns_(WallNowNs() - MonotonicNowNs()) {}
  int64_t operator()(uint64_t monotonic_ns) const {
    return offset_ns_ + static_cast<int64_t>(monotonic_ns);
  }

 private:
  int64_t offset_ns_;
};

}  // namespace netguard

#endif  // NETGUARD_AGENT_COMMON_CLOCK_H_
