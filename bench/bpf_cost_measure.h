// Copyright (c) NetGuard authors.
//
// bpf_cost's measuring side: the benchmark's packets, the harness around the programs under test
// (CPU pinning, a private BPF pin directory, a trivial XDP_PASS program, the ring consumer) and
// one measurement routine per figure. See bpf_cost.cpp.

#ifndef NETGUARD_BENCH_BPF_COST_MEASURE_H_
#define NETGUARD_BENCH_BPF_COST_MEASURE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bpf_cost_report.h"
#include "capture/blocklist.h"
#include "capture/ebpf_dataplane.h"
#include "capture/ring_reader.h"
#include "common/ip_prefix.h"
#include "xdp_filter_peer.h"

namespace netguard::bench::bpf_cost {

// The addresses of the benchmark packets. kBlockedSrc is in the blocklist and in both xdp-filter
// rules; the existing flows come from kFlowSrc, which is not blocked (its blocklist lookup
// misses, as for any tracked packet). New flows use 10.64.0.0 + i (see MeasureNewFlows()).
inline constexpr char kBlockedSrc[] = "10.0.0.1";
inline constexpr char kFlowSrc[] = "10.0.0.2";
inline constexpr uint64_t kNewFlowAddresses = 0x00c00000;  // 10.64.0.0 up to 10.255.255.255
inline constexpr uint32_t kWarmRepeat = 10'000;            // warm-up runs before each measured run
inline constexpr uint32_t kDrainEvery = 1'000;             // repeat=1 runs between two ring drains

/// Set (from a signal handler) to stop the benchmark; CheckStop() turns it into an exception.
extern std::atomic<bool> g_stop;

/// @throws std::system_error with EINTR ("interrupted") once g_stop is set.
void CheckStop();

/// Pins the calling thread to `cpu`, or to the last CPU it may run on when cpu < 0, and
/// remembers the CPUs the process was allowed (see RingDrain::StartConsumer()).
///
/// @return the CPU pinned to.
/// @throws std::invalid_argument if `cpu` is not available to the process.
/// @throws std::system_error if the affinity cannot be read or set.
int PinToCpu(int cpu);

/// A fresh directory under /sys/fs/bpf for the data plane's pinned maps, removed (with the maps
/// pinned in it) on destruction, so a run leaves nothing in the BPF filesystem.
class PinDir {
 public:
  /// Mounts the BPF filesystem if needed and creates /sys/fs/bpf/netguard-bench-XXXXXX.
  ///
  /// @throws std::system_error if the directory cannot be created.
  PinDir();
  /// Removes the directory; a failure is reported on stderr.
  ~PinDir();
  PinDir(const PinDir&) = delete;
  PinDir& operator=(const PinDir&) = delete;

  /// The directory's path.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// A trivial XDP program (r0 = XDP_PASS; exit) built from raw instructions: its cost is the
/// BPF_PROG_TEST_RUN loop and program dispatch, i.e. the floor under every other figure.
class PassProgram {
 public:
  /// Loads the program.
  ///
  /// @throws std::system_error if the kernel refuses it.
  PassProgram();
  ~PassProgram();
  PassProgram(const PassProgram&) = delete;
  PassProgram& operator=(const PassProgram&) = delete;

  /// fd of the loaded BPF_PROG_TYPE_XDP program.
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

/// Counts ring records. By default the benchmark thread drains the ring between measured runs,
/// so no consumer is waiting while a program runs. StartConsumer() starts a thread that blocks
/// in epoll on the ring and consumes records as they arrive, as the agent does; while it runs,
/// the ring is only read by that thread. (--drain concurrent keeps it running for the whole
/// benchmark.)
class RingDrain {
 public:
  /// Reads the ring buffer map `ring_fd` (the data plane's events map).
  explicit RingDrain(int ring_fd);
  /// Stops the consumer thread, if running.
  ~RingDrain();
  RingDrain(const RingDrain&) = delete;
  RingDrain& operator=(const RingDrain&) = delete;

  /// Starts the consumer thread (no-op if running). `avoid_cpu`: keep it off the benchmark's
  /// CPU (when there is another one), as the agent's thread normally runs elsewhere than the CPU
  /// taking the packet. Needs PinToCpu() to have run.
  void StartConsumer(int avoid_cpu);
  /// Stops and joins the consumer thread (no-op if not running).
  void StopConsumer();
  /// True while the consumer thread runs.
  bool consumer_running() const { return thread_.joinable(); }

  /// Consumes everything in the ring now (or, with the consumer thread running, waits until it
  /// has caught up), so counts read afterwards are complete.
  void Drain();
  /// Between new-flow runs: drains unless the consumer thread does.
  void DrainIfIdle();

  /// Records read so far (flow starts, flow ends and packet samples).
  uint64_t records() const { return starts_ + ends_ + samples_; }
  /// Malformed records seen so far.
  uint64_t malformed() const { return reader_.malformed(); }
  /// True if the consumer thread stopped on an error.
  bool failed() const { return failed_; }

 private:
  capture::RingReader reader_;
  std::atomic<uint64_t> starts_{0};
  std::atomic<uint64_t> ends_{0};
  std::atomic<uint64_t> samples_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::thread thread_;
};

/// A 64-byte Ethernet/IPv4/UDP frame (22 B payload) from `src` to the benchmark's destination.
///
/// @throws std::logic_error if the frame does not come out at 64 bytes.
std::vector<uint8_t> UdpFrame(const std::string& src);

/// A 64-byte Ethernet/IPv4/TCP ACK frame (10 B payload) from `src` to the benchmark's
/// destination.
///
/// @throws std::logic_error if the frame does not come out at 64 bytes.
std::vector<uint8_t> TcpAckFrame(const std::string& src);

/// What the measurements of one run share.
struct Bench {
  const capture::EbpfDataPlane& dp;  // ng_xdp_ingress and its maps
  RingDrain& ring;                   // consumer of the data plane's ring buffer
  int cpu;                           // the CPU the benchmark is pinned to
  uint32_t repeat;                   // BPF_PROG_TEST_RUN repeat of the repeat-based figures
  Checks& checks;                    // where failed checks go
};

/// Runs `prog_fd` on `frame` kWarmRepeat times (warm-up), then `repeat` times in one syscall,
/// and records that trial's ns/packet and verdict in `fig`; a verdict other than
/// fig.expected_verdict fails a check.
void MeasureRepeat(Figure& fig, int prog_fd, std::span<const uint8_t> frame, uint32_t repeat,
                   Checks& checks);

/// The new-flow figure's accounting over all trials.
struct NewFlowTally {
  uint64_t next_index = 0;         // new flows run so far: the next one's address offset
  uint64_t map_filling_limit = 0;  // runs counted in map_filling_* (half the flow map)
  double map_filling_sum = 0;      // ns of the runs while the flow map was filling
  uint64_t map_filling_runs = 0;
  uint64_t flows_started = 0, insert_failed = 0, ring_drops = 0, records = 0;
  std::vector<uint32_t> runs{};  // ns of every run, for percentiles
};

/// One new_flow trial: `count` runs of ng_xdp_ingress with repeat=1, each on a UDP packet from
/// a distinct source address (10.64.0.0 + tally.next_index) and port, draining the ring every
/// kDrainEvery runs. Records the mean ns/run in `fig` and checks that every run passed and
/// started a flow.
void MeasureNewFlows(const Bench& bench, Figure& fig, NewFlowTally& tally, uint32_t count);

/// One xdp_pass_floor_repeat1 trial: `count` runs of `pass` on `frame` with repeat=1. Records
/// the mean ns/run in `fig` and each run's ns in `runs`.
void MeasurePassFloorRepeat1(const Bench& bench, Figure& fig, std::vector<uint32_t>& runs,
                             const PassProgram& pass, std::span<const uint8_t> frame,
                             uint32_t count);

/// One block_hit trial (MeasureRepeat() of ng_xdp_ingress on `frame`, from `blocked`); checks
/// that every run was counted against the blocklist entry and as xdp_dropped.
void MeasureBlockHit(const Bench& bench, Figure& fig, const capture::Blocklist& blocklist,
                     const IpPrefix& blocked, std::span<const uint8_t> frame);

/// One xdp-filter trial (MeasureRepeat() of `peer` on `frame`); checks that every run hit the
/// peer's rule.
void MeasurePeer(const Bench& bench, Figure& fig, const XdpFilterPeer& peer,
                 std::span<const uint8_t> frame);

/// One existing-flow trial: warms the flow of `frame` up, empties the ring, then MeasureRepeat()
/// of ng_xdp_ingress, tallying in `fig` the samples written, ring records read and dropped,
/// flows started and IRQ work interrupts on the benchmark's CPU. With `consumer_waiting`, the
/// ring consumer thread runs during the measured runs (and is stopped afterwards unless
/// `drain_concurrent`). Checks that no flow started and no ring record was dropped.
void MeasureExistingFlow(const Bench& bench, Figure& fig, std::span<const uint8_t> frame,
                         bool consumer_waiting, bool drain_concurrent);

}  // namespace netguard::bench::bpf_cost

#endif  // NETGUARD_BENCH_BPF_COST_MEASURE_H_
