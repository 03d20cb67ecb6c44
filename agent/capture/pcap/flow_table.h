// User-space flow table of the pcap backends: the kernel's per-packet rule (bpf/flow_update.h,
// ng_flow_step) applied to frames from libpcap, plus idle-timeout expiry driven by capture time.
#ifndef NETGUARD_AGENT_CAPTURE_PCAP_FLOW_TABLE_H_
#define NETGUARD_AGENT_CAPTURE_PCAP_FLOW_TABLE_H_

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "common/slot_chunks.h"
#include "common/slot_index.h"
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

/// Flows keyed by ng_flow_key holding struct ng_flow values, updated with ng_flow_step(): the
/// same packets at the same timestamps give the same accumulators as the eBPF data plane.
/// Timestamps are capture times in ns since the Unix epoch. Not thread-safe.
///
/// Layout: a flat hash index maps each key to a slot (SlotChunks). A flow of one packet so far
/// keeps that packet (64 bytes) instead of its accumulators (~0.5 KB): ng_flow_step() replays it
/// from the empty entry when the flow is reported or its second packet comes, which gives the
/// very accumulators the packet made. A flood of one-packet flows then costs one index probe and
/// an eighth of the memory it would otherwise, and sweeps and the final flush walk the slots in
/// memory order.
class FlowTable {
 public:
  FlowTable(FlowTableOptions options, FlowEvents& events);
  FlowTable(const FlowTable&) = delete;  // the index refers to the table
  FlowTable& operator=(const FlowTable&) = delete;

  /// Accounts one frame (from the Ethernet header; `frame` holds the captured bytes, `wire_len`
  /// the length on the wire) captured at `ts_ns`. Sweeps idle flows first when a sweep is due.
  void AddFrame(std::span<const uint8_t> frame, uint32_t wire_len, uint64_t ts_ns);

  /// Ends every flow idle longer than the idle timeout, or older than the active timeout, at
  /// capture time `now_ns`, and reports the others as open (FlowEvents::OnFlowOpen).
  void Sweep(uint64_t now_ns);

  /// Ends every remaining flow with `reason` (end of a capture file: kShutdown).
  void Flush(FlowEndReason reason = FlowEndReason::kShutdown);

  /// The accumulators of an active flow, if there is one with `key`.
  std::optional<ng_flow> Find(const ng_flow_key& key) const;

  size_t size() const { return index_.size(); }
  const FlowTableStats& stats() const { return stats_; }
  const FlowTableOptions& options() const { return options_; }

 private:
  struct Slot {
    ng_flow_key key;
    bool live;
    ng_flow flow;
  };
  /// The one packet of a flow so far: what ng_flow_step() reads of it that its key does not
  /// hold. The key and `side` give the addresses and ports back (ng_flow_key_make() only orders
  /// the two endpoints), the flow's first and last times are the packet's, and ip_len is the sum
  /// of the header and payload lengths ng_parse_l4() split it into. One cache line, not 144
  /// bytes: a flood of one-packet flows touches half the pages.
  struct FirstPacket {
    ng_flow_key key;
    uint64_t ts_ns;
    uint32_t wire_len;
    uint32_t payload_len;
    uint16_t window;
    uint16_t l3_hdr_len;  // IPv6 extension headers can pass 255 bytes
    uint8_t l2_hdr_len;   // Ethernet and at most two VLAN tags: <= 22
    uint8_t l4_hdr_len;   // a TCP data offset: <= 60
    uint8_t tcp_flags;
    uint8_t side : 1;
    uint8_t dns_query : 1;
    bool live : 1;
  };
  static_assert(sizeof(FirstPacket) == 64);
  /// A handle: a Slot, or a FirstPacket when kFirstPacket is set.
  static constexpr uint32_t kFirstPacket = uint32_t{1} << 31;

  /// The index (common/slot_index.h) finds a flow's handle; its key is in the handle's slot.
  struct KeyOfHandle {
    const FlowTable* table;
    const ng_flow_key& operator()(uint32_t handle) const { return table->KeyOf(handle); }
  };
  using Index = SlotIndex<ng_flow_key, KeyOfHandle>;

  const ng_flow_key& KeyOf(uint32_t handle) const;
  /// (first packet, last packet) times of the flow.
  std::pair<uint64_t, uint64_t> TimesOf(uint32_t handle) const;
  /// The packet a FirstPacket was made from, as ng_parse_l3/l4() gave it (pcap has no GSO).
  static ng_pkt PacketOf(const FirstPacket& first);
  /// ng_flow_step() of a first packet on an empty entry.
  void Replay(const FirstPacket& first, ng_flow& flow) const;
  /// Moves a one-packet flow into a Slot of its own (Reserve done); returns the slot.
  uint32_t Promote(uint32_t handle);
  void Release(uint32_t handle);
  /// Live handles gathered in memory order, and whether their start times came in order: the
  /// first packets of a flood do (made in packet order, never moved), and then only the runs of
  /// equal start times need sorting.
  struct Handles {
    std::vector<uint32_t> list;
    uint64_t last_start_ns = 0;
    bool in_time_order = true;
    void Add(uint32_t handle, uint64_t start_ns) {
      in_time_order = in_time_order && start_ns >= last_start_ns;
      last_start_ns = start_ns;
      list.push_back(handle);
    }
  };
  /// The handles in report order: flow start time, then key bytes.
  std::vector<uint32_t> InStartOrder(Handles handles) const;
  /// Calls f(handle, first_ts_ns, last_ts_ns) for each live flow, first packets then slots, each
  /// in memory order.
  template <typename F>
  void ForEachLive(F f) const;
  /// A flow's record, written into `record` (reused, so that a flush does not build 0.5 KB
  /// records one after another): a first packet is replayed right into `record.acc`.
  void Fill(uint32_t handle, FlowEndReason reason, FlowRecord& record) const;
  /// `record` with `key`, the times of its accumulators and `reason`.
  void Label(const ng_flow_key& key, FlowEndReason reason, FlowRecord& record) const;
  void Sample(std::span<const uint8_t> frame, uint32_t wire_len, uint64_t ts_ns, uint8_t reason,
              const ng_flow_key& key, uint8_t side);

  FlowTableOptions options_;
  FlowEvents& events_;
  Index index_;
  SlotChunks<Slot> slots_;
  SlotChunks<FirstPacket> firsts_;
  FlowTableStats stats_;
  uint64_t next_sweep_ns_ = 0;
  /// ng_flow_step()'s snapshots, written in place and handed on as they are.
  FlowRecord expired_, started_, finished_;
};

}  // namespace netguard::capture::pcap

#endif  // NETGUARD_AGENT_CAPTURE_PCAP_FLOW_TABLE_H_
