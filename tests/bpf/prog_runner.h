// Runs one frame through a loaded XDP or TC program with BPF_PROG_RUN at a chosen timestamp.
#ifndef NETGUARD_TESTS_BPF_PROG_RUNNER_H_
#define NETGUARD_TESTS_BPF_PROG_RUNNER_H_

#include <cstdint>
#include <span>

namespace netguard::testing {

inline constexpr uint32_t kXdpDrop = 1;  // XDP_DROP
inline constexpr uint32_t kXdpPass = 2;  // XDP_PASS
inline constexpr uint32_t kTcActOk = 0;  // TC_ACT_OK

/// Runs `frame` (from the Ethernet header on) through the XDP program `prog_fd` `repeat` times
/// and returns the verdict of the last run. The timestamp `ts_ns` goes in 8 bytes of XDP
/// metadata in front of the frame, where a data plane loaded with timestamps_from_packet reads
/// it. The frame may be shorter than an Ethernet header (the metadata makes up the kernel's
/// 14-byte minimum). Throws std::system_error when the kernel refuses the run.
uint32_t RunXdp(int prog_fd, std::span<const uint8_t> frame, uint64_t ts_ns, uint32_t repeat = 1);

/// Runs `frame` through the TC (sched_cls) program `prog_fd` with skb->tstamp = ts_ns and
/// returns the verdict of the last run. The frame needs at least 14 bytes (kernel minimum).
uint32_t RunTc(int prog_fd, std::span<const uint8_t> frame, uint64_t ts_ns, uint32_t repeat = 1);

}  // namespace netguard::testing

#endif  // NETGUARD_TESTS_BPF_PROG_RUNNER_H_
