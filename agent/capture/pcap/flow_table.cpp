#include "capture/pcap/flow_table.h"

#include <algorithm>
#include <cstring>

#include "packet_parse.h"

namespace netguard::capture::pcap {
FlowTable::FlowTable(FlowTableOptions options, FlowEvents& events)
    : options_(options),
      events_(events),
      index_(0, SlotIndexHash<ng_flow_key>{}, SlotIndexEq<ng_flow_key, KeyOfHandle>{{this}}) {}

void FlowTable::Label(const ng_flow_key& key, FlowEndReason reason, FlowRecord& record) const {
  record.key = key;
  record.end_reason = reason;
  record.ifindex = options_.ifindex;
  record.start_ns = static_cast<int64_t>(record.acc.first_ts_ns);
  record.end_ns = static_cast<int64_t>(record.acc.last_ts_ns);
}

void FlowTable::Fill(uint32_t handle, FlowEndReason reason, FlowRecord& record) const {
  if (handle & kFirstPacket) {
    const FirstPacket& first = firsts_.At(handle & ~kFirstPacket);
    Replay(first, record.acc);
    Label(first.key, reason, record);
  } else {
    const Slot& slot = slots_.At(handle);
    record.acc = slot.flow;
    Label(slot.key, reason, record);
  }
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
  const SlotProbe<ng_flow_key> probe = ProbeOf(key);
  slots_.Reserve();  // the slots' only allocating steps, before any slot is taken
  firsts_.Reserve();
  // One probe finds the flow or makes its entry, a first packet: a flood's packets all miss.
  bool fresh = false;
  const auto it = index_.lazy_emplace(probe, [&](const auto& make) {
    fresh = true;
    const uint32_t slot = firsts_.Take();
    firsts_.At(slot).key = key;
    make(SlotIndexEntry{slot | kFirstPacket, probe.hash});
  });
  ng_flow first;  // a new flow's entry until it proves to have more than one packet
  if (fresh) {
    first.state = NG_FLOW_EMPTY;  // an empty entry, as the kernel's reset in place leaves it
  } else if (it->handle & kFirstPacket) {
    it->handle = Promote(it->handle);
  }
  ng_flow& entry = fresh ? first : slots_.At(it->handle).flow;
  __u8 end_reason = 0;
  // The started snapshot (0.5 KB) only for detectors: a flood's flows CSV makes one per packet.
  const __u32 result =
      ng_flow_step(&entry, &pkt, side, ts_ns, &options_.step, &expired_.acc,
                   options_.detector_events ? &started_.acc : nullptr, &finished_.acc, &end_reason);
  if (fresh && !(result & NG_STEP_FINISHED)) {
    FirstPacket& f = firsts_.At(it->handle & ~kFirstPacket);
    f.ts_ns = ts_ns;
    f.wire_len = pkt.wire_len;
    f.payload_len = pkt.payload_len;
    f.window = pkt.window;
    f.l3_hdr_len = pkt.l3_hdr_len;
    f.l2_hdr_len = static_cast<uint8_t>(pkt.l2_hdr_len);
    f.l4_hdr_len = static_cast<uint8_t>(pkt.l4_hdr_len);
    f.tcp_flags = pkt.tcp_flags;
    f.side = side;
    f.dns_query = pkt.dns_query;
  }
  if (result & NG_STEP_EXPIRED) {
    stats_.flows_ended_active_timeout++;
    Label(key, FlowEndReason::kActiveTimeout, expired_);
    events_.OnFlowEnd(expired_);
  }
  if (result & NG_STEP_STARTED) {
    stats_.flows_started++;
    if (options_.detector_events) {
      Label(key, FlowEndReason::kIdleTimeout, started_);
      events_.OnFlowStart(started_);
    }
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
    Release(it->handle);
    index_.erase(it);
    Label(key, fin ? FlowEndReason::kFin : FlowEndReason::kRst, finished_);
    events_.OnFlowEnd(finished_);
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

const ng_flow_key& FlowTable::KeyOf(uint32_t handle) const {
  return handle & kFirstPacket ? firsts_.At(handle & ~kFirstPacket).key : slots_.At(handle).key;
}

std::pair<uint64_t, uint64_t> FlowTable::TimesOf(uint32_t handle) const {
  if (handle & kFirstPacket) {
    const uint64_t ts_ns = firsts_.At(handle & ~kFirstPacket).ts_ns;
    return {ts_ns, ts_ns};
  }
  const ng_flow& flow = slots_.At(handle).flow;
  return {flow.first_ts_ns, flow.last_ts_ns};
}

ng_pkt FlowTable::PacketOf(const FirstPacket& first) {
  ng_pkt pkt{};
  const bool a = first.side == NG_SIDE_A;  // the sender is side A of the key
  for (int i = 0; i < 4; i++) {
    pkt.src[i] = a ? first.key.addr_a[i] : first.key.addr_b[i];
    pkt.dst[i] = a ? first.key.addr_b[i] : first.key.addr_a[i];
  }
  pkt.sport = a ? first.key.port_a : first.key.port_b;
  pkt.dport = a ? first.key.port_b : first.key.port_a;
  pkt.vlan_id = first.key.vlan_id;
  pkt.family = first.key.family;
  pkt.proto = first.key.proto;
  pkt.window = first.window;
  pkt.wire_len = first.wire_len;
  pkt.payload_len = first.payload_len;
  pkt.l2_hdr_len = first.l2_hdr_len;
  pkt.l3_hdr_len = first.l3_hdr_len;
  pkt.l4_hdr_len = first.l4_hdr_len;
  // ng_parse_l4() took payload_len = ip_len - l3_hdr_len - l4_hdr_len (modulo 2^32 as here).
  pkt.ip_len = first.payload_len + first.l3_hdr_len + first.l4_hdr_len;
  pkt.tcp_flags = first.tcp_flags;
  pkt.dns_query = first.dns_query;
  return pkt;  // fragment, error and GSO are 0: a flow's packet, parsed from a whole frame
}

void FlowTable::Replay(const FirstPacket& first, ng_flow& flow) const {
  flow.state = NG_FLOW_EMPTY;  // as the entry was when the packet came
  const ng_pkt pkt = PacketOf(first);
  __u8 end_reason = 0;  // a kept first packet neither expires nor ends a flow: no snapshots
  ng_flow_step(&flow, &pkt, first.side, first.ts_ns, &options_.step, nullptr, nullptr, nullptr,
               &end_reason);
}

uint32_t FlowTable::Promote(uint32_t handle) {
  const uint32_t first = handle & ~kFirstPacket;
  const uint32_t slot = slots_.Take();
  Slot& s = slots_.At(slot);
  s.key = firsts_.At(first).key;
  Replay(firsts_.At(first), s.flow);
  firsts_.Release(first);
  return slot;
}

void FlowTable::Release(uint32_t handle) {
  if (handle & kFirstPacket)
    firsts_.Release(handle & ~kFirstPacket);
  else
    slots_.Release(handle);
}

template <typename F>
void FlowTable::ForEachLive(F f) const {
  for (uint32_t i = 0; i < firsts_.used(); ++i) {
    const FirstPacket& first = firsts_.At(i);
    if (first.live) f(i | kFirstPacket, first.ts_ns, first.ts_ns);
  }
  for (uint32_t i = 0; i < slots_.used(); ++i) {
    const Slot& slot = slots_.At(i);
    if (slot.live) f(i, slot.flow.first_ts_ns, slot.flow.last_ts_ns);
  }
}

std::vector<uint32_t> FlowTable::InStartOrder(Handles handles) const {
  const auto key_before = [this](uint32_t x, uint32_t y) {
    return std::memcmp(&KeyOf(x), &KeyOf(y), sizeof(ng_flow_key)) < 0;
  };
  std::vector<uint32_t> list = std::move(handles.list);
  if (handles.in_time_order) {
    for (auto run = list.begin(); run != list.end();) {
      const uint64_t start = TimesOf(*run).first;
      const auto next = std::find_if(
          run, list.end(), [&](uint32_t handle) { return TimesOf(handle).first != start; });
      if (next - run > 1) std::sort(run, next, key_before);
      run = next;
    }
    return list;
  }
  // Sort (start time, handle) pairs so that only ties touch the keys.
  std::vector<std::pair<uint64_t, uint32_t>> order;
  order.reserve(list.size());
  for (uint32_t handle : list) order.emplace_back(TimesOf(handle).first, handle);
  std::sort(order.begin(), order.end(), [&](const auto& x, const auto& y) {
    if (x.first != y.first) return x.first < y.first;
    return key_before(x.second, y.second);
  });
  for (size_t i = 0; i < order.size(); ++i) list[i] = order[i].second;
  return list;
}

void FlowTable::Sweep(uint64_t now_ns) {
  const auto idle = static_cast<uint64_t>(options_.idle_timeout.count());
  const auto active_expired = [&](uint64_t first_ts_ns) {
    return now_ns > first_ts_ns && now_ns - first_ts_ns > options_.step.active_timeout_ns;
  };
  Handles ended, open;
  ForEachLive([&](uint32_t handle, uint64_t first_ts_ns, uint64_t last_ts_ns) {
    if (active_expired(first_ts_ns) ||
        (idle > 0 && now_ns > last_ts_ns && now_ns - last_ts_ns > idle))
      ended.Add(handle, first_ts_ns);
    else if (options_.detector_events)
      open.Add(handle, first_ts_ns);
  });
  FlowRecord record;
  for (uint32_t handle : InStartOrder(std::move(open))) {
    Fill(handle, FlowEndReason::kIdleTimeout, record);
    events_.OnFlowOpen(record, now_ns);
  }
  // Report in flow start order so the output does not depend on hash order.
  for (uint32_t handle : InStartOrder(std::move(ended))) {
    const bool active = active_expired(TimesOf(handle).first);
    (active ? stats_.flows_ended_active_timeout : stats_.flows_ended_idle_timeout)++;
    Fill(handle, active ? FlowEndReason::kActiveTimeout : FlowEndReason::kIdleTimeout, record);
    index_.erase(ProbeOf(record.key));
    Release(handle);
    events_.OnFlowEnd(record);
  }
}

void FlowTable::Flush(FlowEndReason reason) {
  Handles live;
  live.list.reserve(index_.size());
  ForEachLive(
      [&](uint32_t handle, uint64_t first_ts_ns, uint64_t) { live.Add(handle, first_ts_ns); });
  FlowRecord record;
  for (uint32_t handle : InStartOrder(std::move(live))) {
    stats_.flows_flushed++;
    Fill(handle, reason, record);
    events_.OnFlowEnd(record);
  }
  index_.clear();
  slots_.Clear();
  firsts_.Clear();
}

std::optional<ng_flow> FlowTable::Find(const ng_flow_key& key) const {
  const auto it = index_.find(ProbeOf(key));
  if (it == index_.end()) return std::nullopt;
  if (!(it->handle & kFirstPacket)) return slots_.At(it->handle).flow;
  ng_flow flow;
  Replay(firsts_.At(it->handle & ~kFirstPacket), flow);
  return flow;
}

}  // namespace netguard::capture::pcap
