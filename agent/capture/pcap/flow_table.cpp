#include "capture/pcap/flow_table.h"

#include <algorithm>
#include <tuple>
#include <vector>

#include "packet_parse.h"

namespace netguard::capture::pcap {
namespace {

// Deterministic report order: flow start time, then key bytes.
bool KeyBefore(uint64_t ts_x, const ng_flow_key& x, uint64_t ts_y, const ng_flow_key& y) {
  if (ts_x != ts_y) return ts_x < ts_y;
  return std::memcmp(&x, &y, sizeof(x)) < 0;
}

}  // namespace

size_t FlowKeyHash::operator()(const ng_flow_key& key) const noexcept {
  // Word at a time with a strong mix (splitmix64's finalizer): 5 steps for the 40-byte key.
  uint64_t words[sizeof(key) / 8];
  static_assert(sizeof(key) % 8 == 0);
  std::memcpy(words, &key, sizeof(key));
  uint64_t h = 0;
  for (uint64_t w : words) {
    h = (h ^ w) + 0x9e3779b97f4a7c15ULL;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    h ^= h >> 31;
  }
  return static_cast<size_t>(h);
}

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
    if (options_.sample_arp) Sample(frame, wire_len, ts_ns, NG_SAMPLE_ARP, {}, 0);
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
  auto [it, inserted] = flows_.try_emplace(key);  // value-initialised: NG_FLOW_EMPTY
  (void)inserted;
  ng_flow expired, started, finished;
  __u8 end_reason = 0;
  const __u32 result = ng_flow_step(&it->second, &pkt, side, ts_ns, &options_.step, &expired,
                                    &started, &finished, &end_reason);
  if (result & NG_STEP_EXPIRED) {
    stats_.flows_ended_active_timeout++;
    events_.OnFlowEnd(Record(key, expired, FlowEndReason::kActiveTimeout));
  }
  if (result & NG_STEP_STARTED) {
    stats_.flows_started++;
    events_.OnFlowStart(Record(key, started, FlowEndReason::kIdleTimeout));
  }
  // The kernel's sampling decision (ng_track), on the flow's counts after the step.
  const ng_sample_params sampling = {options_.sample_first_n, options_.sample_every_k,
                                     static_cast<__u8>(options_.sample_dns)};
  const uint8_t sample = ng_sample_reason(&it->second, &pkt, side, &sampling);
  if (result & NG_STEP_FINISHED) {
    const bool fin = end_reason == NG_REASON_FIN;
    (fin ? stats_.flows_ended_fin : stats_.flows_ended_rst)++;
    // The entry is empty now: dropping it is what the kernel's reset in place amounts to (the
    // next packet of the key starts afresh either way). `it` may be invalidated by callbacks
    // only if they touch the table, which they must not.
    flows_.erase(it);
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

void FlowTable::Sweep(uint64_t now_ns) {
  const auto idle = static_cast<uint64_t>(options_.idle_timeout.count());
  std::vector<std::tuple<uint64_t, ng_flow_key, FlowEndReason>> ended;
  std::vector<const std::pair<const ng_flow_key, ng_flow>*> open;
  for (const auto& entry : flows_) {
    const auto& [key, flow] = entry;
    if (now_ns > flow.first_ts_ns && now_ns - flow.first_ts_ns > options_.step.active_timeout_ns)
      ended.emplace_back(flow.first_ts_ns, key, FlowEndReason::kActiveTimeout);
    else if (idle > 0 && now_ns > flow.last_ts_ns && now_ns - flow.last_ts_ns > idle)
      ended.emplace_back(flow.first_ts_ns, key, FlowEndReason::kIdleTimeout);
    else
      open.push_back(&entry);
  }
  std::sort(open.begin(), open.end(), [](const auto* x, const auto* y) {
    return KeyBefore(x->second.first_ts_ns, x->first, y->second.first_ts_ns, y->first);
  });
  for (const auto* entry : open) {
    events_.OnFlowOpen(Record(entry->first, entry->second, FlowEndReason::kIdleTimeout), now_ns);
  }
  // Report in flow start order so the output does not depend on hash order.
  std::sort(ended.begin(), ended.end(), [](const auto& x, const auto& y) {
    return KeyBefore(std::get<0>(x), std::get<1>(x), std::get<0>(y), std::get<1>(y));
  });
  for (const auto& [first_ts, key, reason] : ended) {
    auto node = flows_.extract(key);
    (reason == FlowEndReason::kActiveTimeout ? stats_.flows_ended_active_timeout
                                             : stats_.flows_ended_idle_timeout)++;
    events_.OnFlowEnd(Record(key, node.mapped(), reason));
  }
}

void FlowTable::Flush(FlowEndReason reason) {
  // Sort pointers into flow start order, not the ~512-byte entries themselves.
  std::vector<const std::pair<const ng_flow_key, ng_flow>*> order;
  order.reserve(flows_.size());
  for (const auto& entry : flows_) order.push_back(&entry);
  std::sort(order.begin(), order.end(), [](const auto* x, const auto* y) {
    return KeyBefore(x->second.first_ts_ns, x->first, y->second.first_ts_ns, y->first);
  });
  for (const auto* entry : order) {
    stats_.flows_flushed++;
    events_.OnFlowEnd(Record(entry->first, entry->second, reason));
  }
  flows_.clear();
}

const ng_flow* FlowTable::Find(const ng_flow_key& key) const {
  auto it = flows_.find(key);
  return it == flows_.end() ? nullptr : &it->second;
}

}  // namespace netguard::capture::pcap
