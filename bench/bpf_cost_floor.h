// Copyright (c) NetGuard authors.
//
// bpf_cost's component floors: the programs of bench/bpf_floor.bpf.c, each one kernel primitive
// (or the bare minimum) of the existing-flow path, measured like the other figures. They show
// what any exact design the issue allows pays on this machine before any accounting is done.

#ifndef NETGUARD_BENCH_BPF_COST_FLOOR_H_
#define NETGUARD_BENCH_BPF_COST_FLOOR_H_

#include <array>
#include <cstdint>
#include <span>

#include "bpf_cost_measure.h"
#include "bpf_cost_report.h"
#include "netguard.h"

struct bpf_floor_bpf;

namespace netguard::bench::bpf_cost {

/// The floor programs, in report order.
enum class FloorKind {
  kKtime,              // bpf_ktime_get_ns() only
  kLruLookup,          // flow-map lookup (LRU hash, 65536 entries, product key and value)
  kLookupKtime,        // lookup + clock, the clock stored in the entry
  kLookupKtimeLock,    // lookup + clock + the key's lock stripe, clock stored under the lock
  kPercpuLookupKtime,  // LRU per-CPU hash lookup + clock, stored in this CPU's entry
};
inline constexpr std::array<FloorKind, 5> kFloorKinds = {
    FloorKind::kKtime, FloorKind::kLruLookup, FloorKind::kLookupKtime, FloorKind::kLookupKtimeLock,
    FloorKind::kPercpuLookupKtime};

/// The figure of each floor (name, program, packet, method, expected verdict).
Figure DescribeFloor(FloorKind kind, const std::string& method);

/// bench/bpf_floor.bpf.c loaded, with both flow maps (shared and per-CPU) filled to capacity.
class FloorPrograms {
 public:
  /// Loads the programs with the flow key of `frame` (the existing_flow packet's), then fills
  /// each flow map with capacity - 1 other keys and that key last (the most recently used).
  ///
  /// @throws std::system_error if the frame does not parse, loading or filling fails, or the
  /// key is not in a map after.
  explicit FloorPrograms(std::span<const uint8_t> frame);
  ~FloorPrograms();
  FloorPrograms(const FloorPrograms&) = delete;
  FloorPrograms& operator=(const FloorPrograms&) = delete;

  /// fd of the program of `kind`.
  int prog_fd(FloorKind kind) const;

  /// The timestamp the program of `kind` last stored (floor_ts, or last_ts_ns of the key's
  /// entry, on `cpu` for the per-CPU map); 0 for kLruLookup, which stores nothing.
  uint64_t Stamp(FloorKind kind, int cpu) const;

 private:
  void Fill(int map_fd, size_t value_bytes) const;

  bpf_floor_bpf* skel_ = nullptr;
  ng_flow_key key_;
};

/// One floor trial: MeasureRepeat() of the program of `kind` on `frame`. Checks that the
/// timestamp it stores advanced over the measured runs (the verdict, XDP_PASS, checks that the
/// flow entry was found).
void MeasureFloor(const Bench& bench, Figure& fig, const FloorPrograms& floors, FloorKind kind,
                  std::span<const uint8_t> frame);

}  // namespace netguard::bench::bpf_cost

#endif  // NETGUARD_BENCH_BPF_COST_FLOOR_H_
