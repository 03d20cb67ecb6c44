// User-space flow table of the pcap backends: the kernel's per-packet rule (bpf/flow_update.h,
// ng_flow_step) applied to frames from libpcap, plus idle-timeout expiry driven by capture time.
#ifndef NETGUARD_AGENT_CAPTURE_PCAP_FLOW_TABLE_H_
#define NETGUARD_AGENT_CAPTURE_PCAP_FLOW_TABLE_H_

#include <absl/container/flat_hash_map.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "common/word_hash.h"
#include "core/flow_record.h"
#include "core/packet_sample.h"
#include "flow_update.h"
#include "netguard.h"

namespace netguard::capture::pcap {

/// Receives the flows a FlowTable starts and ends, in packet order.
class FlowEvents {
 public:
  virtual ~FlowEvents() = default;
  /// A flow started; `flow.acc` holds its first packet (as the kernel's FLOW_START record).
  virtual void OnFlowStart(const FlowRecord& flow) { (void)flow; }
  /// A flow ended (FIN/RST, active or idle timeout, flush).
  virtual void OnFlowEnd(const FlowRecord& flow) = 0;
  /// A flow still open at a sweep at capture time `now_ns` (`flow.acc`: its counts so far).
  virtual void OnFlowOpen(const FlowRecord& flow, uint64_t now_ns) {
    (void)flow;
    (void)now_ns;
  }
  /// A packet sampled by the kernel's rules (struct ng_config: every DNS query and ARP packet,
  /// the first N packets of each flow, then one in K).
  virtual void OnPacketSample(const PacketSample& sample) { (void)sample; }
};

/// Lifecycle parameters. `step` are the very parameters the kernel program takes from
/// struct ng_config (activity timeout, active timeout, end flags).
struct FlowTableOptions {
  ng_step_params step{NG_DEFAULT_ACTIVITY_TIMEOUT_US, NG_DEFAULT_ACTIVE_TIMEOUT_NS,
                      NG_END_ON_FIN | NG_END_ON_RST};
  /// A flow with no packet for this long (capture time) ends with kIdleTimeout; 0 = never.
  std::chrono::nanoseconds idle_timeout = std::chrono::seconds(30);
  /// How often, in capture time, the table looks for idle and active-timeout flows.
  std::chrono::nanoseconds sweep_interval = std::chrono::seconds(1);
  /// ifindex written into FlowRecords (0 for files).
  uint32_t ifindex = 0;
  /// Packet sampling, as the kernel's struct ng_config.
  uint32_t sample_first_n = NG_DEFAULT_SAMPLE_FIRST_N;
  uint32_t sample_every_k = NG_DEFAULT_SAMPLE_EVERY_K;  // 0 = off
  bool sample_dns = true;
  bool sample_arp = true;
  /// Report what only detectors use: flow starts, open flows at each sweep and packet samples.
  /// Off when only finished flows are wanted (a flows CSV): the sweeps then skip open flows
  /// and no sample is taken.
  bool detector_events = true;
};

/// What the table saw, as the kernel's per-CPU statistics count it.
struct FlowTableStats {
  uint64_t frames = 0;
  uint64_t flow_packets = 0;  // frames accounted to a flow
  uint64_t non_ip = 0;
  uint64_t arp = 0;
  uint64_t ip_fragments = 0;
  uint64_t flows_started = 0;
  uint64_t flows_ended_fin = 0;
  uint64_t flows_ended_rst = 0;
  uint64_t flows_ended_active_timeout = 0;
  uint64_t flows_ended_idle_timeout = 0;
  uint64_t flows_flushed = 0;
  uint64_t samples = 0;
  std::array<uint64_t, NG_ERR_COUNT> parse_errors{};  // indexed by enum ng_parse_error
};

/// Hash of the canonical key (FNV-1a over its 40 bytes, which have no padding).
struct FlowKeyHash {
  size_t operator()(const ng_flow_key& key) const noexcept { return HashWords(key); }
};
struct FlowKeyEqual {
  bool operator()(const ng_flow_key& a, const ng_flow_key& b) const noexcept {
    return SameWords(a, b);
  }
};

/// Flows keyed by ng_flow_key holding struct ng_flow values, updated with ng_flow_step(): the
/// same packets at the same timestamps give the same accumulators as the eBPF data plane.
/// Timestamps are capture times in ns since the Unix epoch. Not thread-safe.
///
/// Layout: the values live in fixed-size chunks that never move (a flow is ~0.5 KB), reused
/// through a free list; a flat hash index maps each key to its slot. A flood of one-packet
/// flows then costs one index probe and one slot write per packet, and sweeps and the final
/// flush walk the slots in memory order.
class FlowTable {
 public:
  FlowTable(FlowTableOptions options, FlowEvents& events);

  /// Accounts one frame (from the Ethernet header; `frame` holds the captured bytes, `wire_len`
  /// the length on the wire) captured at `ts_ns`. Sweeps idle flows first when a sweep is due.
  void AddFrame(std::span<const uint8_t> frame, uint32_t wire_len, uint64_t ts_ns);

  /// Ends every flow idle longer than the idle timeout, or older than the active timeout, at
  /// capture time `now_ns`, and reports the others as open (FlowEvents::OnFlowOpen).
  void Sweep(uint64_t now_ns);

  /// Ends every remaining flow with `reason` (end of a capture file: kShutdown).
  void Flush(FlowEndReason reason = FlowEndReason::kShutdown);

  /// The accumulators of an active flow, or nullptr.
  const ng_flow* Find(const ng_flow_key& key) const;

  size_t size() const { return index_.size(); }
  const FlowTableStats& stats() const { return stats_; }
  const FlowTableOptions& options() const { return options_; }

 private:
  struct Slot {
    ng_flow_key key;
    bool live;
    ng_flow flow;
  };
  /// Slots come in 2 MiB chunks, aligned so that the kernel can back each with one huge page
  /// (a flood of new flows otherwise spends a third of its time in page faults).
  static constexpr size_t kChunkBytes = size_t{2} << 20;
  static constexpr uint32_t kChunkSlots = kChunkBytes / sizeof(Slot);
  struct ChunkFree {
    void operator()(Slot* chunk) const;
  };

  Slot& At(uint32_t slot) { return chunks_[slot / kChunkSlots][slot % kChunkSlots]; }
  const Slot& At(uint32_t slot) const { return chunks_[slot / kChunkSlots][slot % kChunkSlots]; }
  /// Makes sure a free slot exists (the only step that allocates), so that taking it cannot
  /// fail after the key is in the index.
  void ReserveSlot();
  uint32_t TakeSlot(const ng_flow_key& key);
  void Erase(uint32_t slot);
  /// The live slots in report order: flow start time, then key bytes.
  std::vector<uint32_t> InStartOrder(std::vector<uint32_t> slots) const;
  FlowRecord Record(const ng_flow_key& key, const ng_flow& flow, FlowEndReason reason) const;
  void Sample(std::span<const uint8_t> frame, uint32_t wire_len, uint64_t ts_ns, uint8_t reason,
              const ng_flow_key& key, uint8_t side);

  FlowTableOptions options_;
  FlowEvents& events_;
  absl::flat_hash_map<ng_flow_key, uint32_t, FlowKeyHash, FlowKeyEqual> index_;
  std::vector<std::unique_ptr<Slot[], ChunkFree>> chunks_;
  std::vector<uint32_t> free_;  // released slots, reused last in first out
  uint32_t used_ = 0;           // slots handed out so far, free ones included
  FlowTableStats stats_;
  uint64_t next_sweep_ns_ = 0;
};

}  // namespace netguard::capture::pcap

#endif  // NETGUARD_AGENT_CAPTURE_PCAP_FLOW_TABLE_H_
