#include "capture/pcap/flow_table.h"

#ifdef __linux__
#include <sys/mman.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <new>
#include <type_traits>

#include "packet_parse.h"

namespace netguard::capture::pcap {
FlowTable::FlowTable(FlowTableOptions options, FlowEvents& events)
    : options_(options), events_(events) {}

FlowRecord FlowTable::Record(const ng_flow_key& key, const ng_flow& flow,
                             FlowEndReason reason) const {
  FlowRecord record;
  record.key = key;
  record.acc = flow;
  record.end_reason = reason;
  record.ifindex = options_.ifindex;
  record.start_ns = static_cast<int64_t>(flow.first_ts_ns);
  record.end_ns = static_cast<int64_t>(flow.last_ts_ns);
  return record;
}

void FlowTable::AddFrame(std::span<const uint8_t> frame, uint32_t wire_len, uint64_t ts_ns) {
  if (options_.sweep_interval.count() > 0 && ts_ns >= next_sweep_ns_) {
    if (next_sweep_ns_ != 0) Sweep(ts_ns);
    next_sweep_ns_ = ts_ns + static_cast<uint64_t>(options_.sweep_interval.count());
  }
  stats_.frames++;

  ng_cursor cursor{frame.data(), frame.data() + frame.size()};
  ng_pkt pkt{};
  const int l3 = ng_parse_l3(&cursor, wire_len, &pkt);
  if (l3 == NG_L3_ERROR) {
    stats_.parse_errors[pkt.error]++;
    return;
  }
  if (l3 == NG_L3_ARP) {
    stats_.arp++;
    if (options_.sample_arp && options_.detector_events)
      Sample(frame, wire_len, ts_ns, NG_SAMPLE_ARP, {}, 0);
    return;
  }
  if (l3 == NG_L3_OTHER) {
    stats_.non_ip++;
    return;
  }
  const int l4 = ng_parse_l4(&cursor, &pkt);
  if (l4 == NG_L4_ERROR) {
    stats_.parse_errors[pkt.error]++;
    return;
  }
  if (l4 == NG_L4_FRAGMENT) {
    stats_.ip_fragments++;
    return;
  }
  stats_.flow_packets++;

  ng_flow_key key{};
  const __u8 side = ng_flow_key_make(&pkt, &key);
  ReserveSlot();
  auto [it, inserted] = index_.try_emplace(key, 0);
  if (inserted) it->second = TakeSlot(key);
  const uint32_t slot = it->second;
  ng_flow& entry = At(slot).flow;
  ng_flow expired, started, finished;
  __u8 end_reason = 0;
  const __u32 result = ng_flow_step(&entry, &pkt, side, ts_ns, &options_.step, &expired, &started,
                                    &finished, &end_reason);
  if (result & NG_STEP_EXPIRED) {
    stats_.flows_ended_active_timeout++;
    events_.OnFlowEnd(Record(key, expired, FlowEndReason::kActiveTimeout));
  }
  if (result & NG_STEP_STARTED) {
    stats_.flows_started++;
    if (options_.detector_events)
      events_.OnFlowStart(Record(key, started, FlowEndReason::kIdleTimeout));
  }
  // The kernel's sampling decision (ng_track), on the flow's counts after the step.
  const ng_sample_params sampling = {options_.sample_first_n, options_.sample_every_k,
                                     static_cast<__u8>(options_.sample_dns)};
  const uint8_t sample =
      options_.detector_events ? ng_sample_reason(&entry, &pkt, side, &sampling) : 0;
  if (result & NG_STEP_FINISHED) {
    const bool fin = end_reason == NG_REASON_FIN;
    (fin ? stats_.flows_ended_fin : stats_.flows_ended_rst)++;
    // The entry is empty now: dropping it is what the kernel's reset in place amounts to (the
    // next packet of the key starts afresh either way). Callbacks must not touch the table.
    index_.erase(it);
    Erase(slot);
    events_.OnFlowEnd(Record(key, finished, fin ? FlowEndReason::kFin : FlowEndReason::kRst));
  }
  if (sample != 0) Sample(frame, wire_len, ts_ns, sample, key, side);
}

void FlowTable::Sample(std::span<const uint8_t> frame, uint32_t wire_len, uint64_t ts_ns,
                       uint8_t reason, const ng_flow_key& key, uint8_t side) {
  stats_.samples++;
  PacketSample sample;
  sample.time_ns = static_cast<int64_t>(ts_ns);
  sample.reason = reason;
  sample.hook = NG_HOOK_XDP;
  sample.ifindex = options_.ifindex;
  sample.key = key;
  sample.side = side;
  sample.wire_len = wire_len;
  DecodeSampleFrame(frame.first(std::min<size_t>(frame.size(), NG_SAMPLE_BYTES)), sample);
  events_.OnPacketSample(sample);
}

void FlowTable::ChunkFree::operator()(Slot* chunk) const { std::free(chunk); }

void FlowTable::ReserveSlot() {
  static_assert(std::is_trivially_default_constructible_v<Slot>);
  if (!free_.empty() || used_ < chunks_.size() * kChunkSlots) return;
  void* memory = std::aligned_alloc(kChunkBytes, kChunkBytes);
  if (!memory) throw std::bad_alloc();
#ifdef __linux__
  madvise(memory, kChunkBytes, MADV_HUGEPAGE);  // a hint: without huge pages all still works
#endif
  // Slot is trivially constructible: TakeSlot writes every field it reads
  chunks_.emplace_back(static_cast<Slot*>(memory));
}

uint32_t FlowTable::TakeSlot(const ng_flow_key& key) {
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = used_++;
  }
  Slot& s = At(slot);
  s.key = key;
  s.live = true;
  s.flow = ng_flow{};  // NG_FLOW_EMPTY
  return slot;
}

void FlowTable::Erase(uint32_t slot) {
  At(slot).live = false;
  free_.push_back(slot);
}

std::vector<uint32_t> FlowTable::InStartOrder(std::vector<uint32_t> slots) const {
  // Sort (start time, slot) pairs so that only ties touch the keys.
  std::vector<std::pair<uint64_t, uint32_t>> order;
  order.reserve(slots.size());
  for (uint32_t slot : slots) order.emplace_back(At(slot).flow.first_ts_ns, slot);
  std::sort(order.begin(), order.end(), [this](const auto& x, const auto& y) {
    if (x.first != y.first) return x.first < y.first;
    return std::memcmp(&At(x.second).key, &At(y.second).key, sizeof(ng_flow_key)) < 0;
  });
  for (size_t i = 0; i < order.size(); ++i) slots[i] = order[i].second;
  return slots;
}

void FlowTable::Sweep(uint64_t now_ns) {
  const auto idle = static_cast<uint64_t>(options_.idle_timeout.count());
  const auto active_expired = [&](const ng_flow& flow) {
    return now_ns > flow.first_ts_ns && now_ns - flow.first_ts_ns > options_.step.active_timeout_ns;
  };
  std::vector<uint32_t> ended, open;
  for (uint32_t slot = 0; slot < used_; ++slot) {
    const Slot& s = At(slot);
    if (!s.live) continue;
    if (active_expired(s.flow) ||
        (idle > 0 && now_ns > s.flow.last_ts_ns && now_ns - s.flow.last_ts_ns > idle))
      ended.push_back(slot);
    else if (options_.detector_events)
      open.push_back(slot);
  }
  for (uint32_t slot : InStartOrder(std::move(open))) {
    const Slot& s = At(slot);
    events_.OnFlowOpen(Record(s.key, s.flow, FlowEndReason::kIdleTimeout), now_ns);
  }
  // Report in flow start order so the output does not depend on hash order.
  for (uint32_t slot : InStartOrder(std::move(ended))) {
    const Slot& s = At(slot);
    const bool active = active_expired(s.flow);
    (active ? stats_.flows_ended_active_timeout : stats_.flows_ended_idle_timeout)++;
    const FlowRecord record =
        Record(s.key, s.flow, active ? FlowEndReason::kActiveTimeout : FlowEndReason::kIdleTimeout);
    index_.erase(s.key);
    Erase(slot);
    events_.OnFlowEnd(record);
  }
}

void FlowTable::Flush(FlowEndReason reason) {
  std::vector<uint32_t> live;
  live.reserve(index_.size());
  for (uint32_t slot = 0; slot < used_; ++slot) {
    if (At(slot).live) live.push_back(slot);
  }
  for (uint32_t slot : InStartOrder(std::move(live))) {
    stats_.flows_flushed++;
    const Slot& s = At(slot);
    events_.OnFlowEnd(Record(s.key, s.flow, reason));
  }
  index_.clear();
  chunks_.clear();
  free_.clear();
  used_ = 0;
}

const ng_flow* FlowTable::Find(const ng_flow_key& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &At(it->second).flow;
}

}  // namespace netguard::capture::pcap
