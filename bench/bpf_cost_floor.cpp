// Copyright (c) NetGuard authors.
//
// bpf_cost's component floors; see bpf_cost_floor.h.

#include "bpf_cost_floor.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "bpf_floor_bpf.skel.h"
#include "flow_update.h"

namespace netguard::bench::bpf_cost {
namespace {

constexpr uint32_t kFillerBase = 0x0a800000;  // 10.128.0.0, host order: the filler keys' side A

[[noreturn]] void Fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), "bpf_floor: " + what);
}

// The flow key of `frame`, as the data plane makes it (the shared parser and ng_flow_key_make).
ng_flow_key KeyOf(std::span<const uint8_t> frame) {
  ng_cursor cursor{frame.data(), frame.data() + frame.size()};
  ng_pkt pkt{};
  if (ng_parse_l3(&cursor, static_cast<__u32>(frame.size()), &pkt) != NG_L3_IP ||
      ng_parse_l4(&cursor, &pkt) != NG_L4_FLOW) {
    Fail(EINVAL, "the floors' frame does not parse");
  }
  ng_flow_key key{};
  ng_flow_key_make(&pkt, &key);
  return key;
}

}  // namespace

Figure DescribeFloor(FloorKind kind, const std::string& method) {
  const std::string entry =
      " in an LRU hash of 65536 entries (40 B struct ng_flow_key, 472 B struct ng_flow), filled "
      "to capacity, the key's entry most recently inserted";
  std::string name;
  std::string program;
  switch (kind) {
    case FloorKind::kKtime:
      name = "floor_ktime";
      program = "bpf_ktime_get_ns(), stored in a global";
      break;
    case FloorKind::kLruLookup:
      name = "floor_lru_lookup";
      program = "bpf_map_lookup_elem of a fixed flow key copied to the stack" + entry;
      break;
    case FloorKind::kLookupKtime:
      name = "floor_lookup_ktime";
      program = "floor_lru_lookup + bpf_ktime_get_ns(), stored in the entry";
      break;
    case FloorKind::kLookupKtimeLock:
      name = "floor_lookup_ktime_lock";
      program =
          "floor_lookup_ktime + the key's lock stripe (ng_flow_key_stripe, array lookup) and "
          "bpf_spin_lock/bpf_spin_unlock around the store, as ng_track locks";
      break;
    case FloorKind::kPercpuLookupKtime:
      name = "floor_percpu_lookup_ktime";
      program =
          "floor_lookup_ktime on a BPF_MAP_TYPE_LRU_PERCPU_HASH of the same size (no lock: one "
          "value per CPU)";
      break;
  }
  return Figure{.name = name,
                .program = program,
                .packet = "64 B Ethernet/IPv4/UDP, src 10.0.0.2 (not read: the key is fixed)",
                .method = method,
                .expected_verdict = XDP_PASS};
}

FloorPrograms::FloorPrograms(std::span<const uint8_t> frame) : key_(KeyOf(frame)) {
  skel_ = bpf_floor_bpf__open();
  if (skel_ == nullptr) Fail(errno, "open");
  // The key is a const volatile global: set it in .rodata before load.
  const_cast<ng_flow_key&>(skel_->rodata->floor_key) = key_;
  if (const int err = bpf_floor_bpf__load(skel_); err != 0) {
    bpf_floor_bpf__destroy(skel_);
    Fail(-err, "load");
  }
  try {
    Fill(bpf_map__fd(skel_->maps.floor_flows), sizeof(ng_flow));
    Fill(bpf_map__fd(skel_->maps.floor_flows_percpu),
         sizeof(ng_flow) * static_cast<size_t>(libbpf_num_possible_cpus()));
  } catch (...) {
    bpf_floor_bpf__destroy(skel_);
    throw;
  }
}

FloorPrograms::~FloorPrograms() { bpf_floor_bpf__destroy(skel_); }

void FloorPrograms::Fill(int map_fd, size_t value_bytes) const {
  const uint32_t capacity = bpf_map__max_entries(skel_->maps.floor_flows);
  const std::vector<uint8_t> zero(value_bytes);
  ng_flow_key filler = key_;
  for (uint32_t i = 0; i + 1 < capacity; ++i) {
    filler.addr_a[0] = htonl(kFillerBase + i);
    if (bpf_map_update_elem(map_fd, &filler, zero.data(), BPF_ANY) != 0) Fail(errno, "fill");
  }
  std::vector<uint8_t> value(value_bytes);
  if (bpf_map_update_elem(map_fd, &key_, zero.data(), BPF_ANY) != 0 ||
      bpf_map_lookup_elem(map_fd, &key_, value.data()) != 0) {
    Fail(errno, "the benchmark key is not in the filled map");
  }
}

int FloorPrograms::prog_fd(FloorKind kind) const {
  switch (kind) {
    case FloorKind::kKtime:
      return bpf_program__fd(skel_->progs.floor_ktime);
    case FloorKind::kLruLookup:
      return bpf_program__fd(skel_->progs.floor_lru_lookup);
    case FloorKind::kLookupKtime:
      return bpf_program__fd(skel_->progs.floor_lookup_ktime);
    case FloorKind::kLookupKtimeLock:
      return bpf_program__fd(skel_->progs.floor_lookup_ktime_lock);
    case FloorKind::kPercpuLookupKtime:
      return bpf_program__fd(skel_->progs.floor_percpu_lookup_ktime);
  }
  return -1;
}

uint64_t FloorPrograms::Stamp(FloorKind kind, int cpu) const {
  if (kind == FloorKind::kKtime) return *static_cast<volatile __u64*>(&skel_->bss->floor_ts);
  if (kind == FloorKind::kLruLookup) return 0;
  const bool percpu = kind == FloorKind::kPercpuLookupKtime;
  const int map_fd = bpf_map__fd(percpu ? skel_->maps.floor_flows_percpu : skel_->maps.floor_flows);
  std::vector<ng_flow> values(percpu ? static_cast<size_t>(libbpf_num_possible_cpus()) : 1);
  if (bpf_map_lookup_elem(map_fd, &key_, values.data()) != 0) Fail(errno, "read the key's entry");
  return values.at(percpu ? static_cast<size_t>(cpu) : 0).last_ts_ns;
}

void MeasureFloor(const Bench& bench, Figure& fig, const FloorPrograms& floors, FloorKind kind,
                  std::span<const uint8_t> frame) {
  const uint64_t before = floors.Stamp(kind, bench.cpu);
  MeasureRepeat(fig, floors.prog_fd(kind), frame, bench.repeat, bench.checks);
  if (kind == FloorKind::kLruLookup) return;
  bench.checks.Expect(floors.Stamp(kind, bench.cpu) > before,
                      fig.name + ": the timestamp the program stores did not advance");
}

}  // namespace netguard::bench::bpf_cost
