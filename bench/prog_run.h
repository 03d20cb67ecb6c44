// Copyright (c) NetGuard authors.
//
// Thin wrapper around BPF_PROG_TEST_RUN used by the XDP micro-benchmarks.

#ifndef NETGUARD_BENCH_PROG_RUN_H_
#define NETGUARD_BENCH_PROG_RUN_H_

#include <cstdint>
#include <span>

namespace netguard::bench {

/// Runs the loaded XDP program `prog_fd` on `frame` `repeat` times in a row via
/// bpf_prog_test_run_opts() and returns the kernel-reported average cost of one run, in ns.
///
/// The figure is `bpf_test_run_opts::duration`, i.e. the kernel's own measurement of the run
/// loop divided by `repeat`. It is an integer (truncated) number of nanoseconds, so for
/// programs that cost only a few tens of ns expect a quantisation of up to 1 ns. The same
/// frame buffer is reused for every iteration; programs that rewrite the packet see their own
/// previous modifications. The run happens on the calling CPU (per-CPU maps use that CPU's
/// slot). A `repeat` of 0 is treated as 1 by the kernel.
///
/// @param prog_fd  fd of a loaded BPF_PROG_TYPE_XDP program.
/// @param frame    the packet, starting at the Ethernet header (at least 14 bytes).
/// @param repeat   number of back-to-back runs to average over (e.g. 1'000'000).
/// @param retval   if non-null, receives the program's return value (the XDP verdict of the
///                 last run, e.g. XDP_DROP == 1, XDP_PASS == 2).
/// @return average nanoseconds per run.
/// @throws std::system_error if the test run fails (errno from the bpf() syscall).
double MeasureNsPerPacket(int prog_fd, std::span<const uint8_t> frame, uint32_t repeat,
                          uint32_t* retval);

}  // namespace netguard::bench

#endif  // NETGUARD_BENCH_PROG_RUN_H_
