#include "capture/pcap/flow_table.h"

#include <algorithm>
#include <cstring>

#include "packet_parse.h"

namespace netguard::capture::pcap {
FlowTable::FlowTable(FlowTableOptions options, FlowEvents& events)
    : options_(options), events_(events), index_(0, IndexHash{}, IndexEq{this}) {}

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

FlowRecord FlowTable::Record(uint32_t handle, FlowEndReason reason) const {
  ng_flow scratch;
  return Record(KeyOf(handle), FlowOf(handle, scratch), reason);
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
  const IndexKey probe = Probe(key);
  slots_.Reserve();  // the slots' only allocating steps, before any slot is taken
  firsts_.Reserve();
  const auto it = index_.find(probe);
  const bool fresh = it == index_.end();
  ng_flow first;  // a new flow's entry until it proves to have more than one packet
  if (fresh) {
    first = ng_flow{};  // NG_FLOW_EMPTY
  } else if (it->handle & kFirstPacket) {
    it->handle = Promote(it->handle);
  }
  ng_flow& entry = fresh ? first : slots_.At(it->handle).flow;
  ng_flow expired, started, finished;
  __u8 end_reason = 0;
  const __u32 result = ng_flow_step(&entry, &pkt, side, ts_ns, &options_.step, &expired, &started,
                                    &finished, &end_reason);
  if (fresh && !(result & NG_STEP_FINISHED)) {
    const uint32_t slot = firsts_.Take();
    FirstPacket& f = firsts_.At(slot);
    f.key = key;
    f.side = side;
    f.ts_ns = ts_ns;
    f.first_ts_ns = first.first_ts_ns;
    f.last_ts_ns = first.last_ts_ns;
    f.pkt = pkt;
    try {
      index_.insert(IndexEntry{slot | kFirstPacket, probe.hash});
    } catch (...) {  // the index could not grow: the flow is not kept
      firsts_.Release(slot);
      throw;
    }
  }
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
    if (!fresh) {
      slots_.Release(it->handle);
      index_.erase(it);
    }
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

const ng_flow_key& FlowTable::KeyOf(uint32_t handle) const {
  return handle & kFirstPacket ? firsts_.At(handle & ~kFirstPacket).key : slots_.At(handle).key;
}

std::pair<uint64_t, uint64_t> FlowTable::TimesOf(uint32_t handle) const {
  if (handle & kFirstPacket) {
    const FirstPacket& f = firsts_.At(handle & ~kFirstPacket);
    return {f.first_ts_ns, f.last_ts_ns};
  }
  const ng_flow& flow = slots_.At(handle).flow;
  return {flow.first_ts_ns, flow.last_ts_ns};
}

void FlowTable::Replay(const FirstPacket& first, ng_flow& flow) const {
  flow = ng_flow{};  // NG_FLOW_EMPTY, as the entry was when the packet came
  ng_flow expired, started, finished;
  __u8 end_reason = 0;
  ng_flow_step(&flow, &first.pkt, first.side, first.ts_ns, &options_.step, &expired, &started,
               &finished, &end_reason);
}

const ng_flow& FlowTable::FlowOf(uint32_t handle, ng_flow& scratch) const {
  if (!(handle & kFirstPacket)) return slots_.At(handle).flow;
  Replay(firsts_.At(handle & ~kFirstPacket), scratch);
  return scratch;
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

std::vector<uint32_t> FlowTable::Live() const {
  std::vector<uint32_t> live;
  live.reserve(index_.size());
  for (uint32_t i = 0; i < firsts_.used(); ++i) {
    if (firsts_.At(i).live) live.push_back(i | kFirstPacket);
  }
  for (uint32_t i = 0; i < slots_.used(); ++i) {
    if (slots_.At(i).live) live.push_back(i);
  }
  return live;
}

std::vector<uint32_t> FlowTable::InStartOrder(std::vector<uint32_t> handles) const {
  // Sort (start time, handle) pairs so that only ties touch the keys.
  std::vector<std::pair<uint64_t, uint32_t>> order;
  order.reserve(handles.size());
  for (uint32_t handle : handles) order.emplace_back(TimesOf(handle).first, handle);
  const auto before = [this](const auto& x, const auto& y) {
    if (x.first != y.first) return x.first < y.first;
    return std::memcmp(&KeyOf(x.second), &KeyOf(y.second), sizeof(ng_flow_key)) < 0;
  };
  // Flows made in packet order and never moved (a flood) are in time order already: then only
  // the runs of equal start times (microsecond stamps tie often) need sorting, by key.
  const auto earlier = [](const auto& x, const auto& y) { return x.first < y.first; };
  if (std::is_sorted(order.begin(), order.end(), earlier)) {
    for (auto run = order.begin(); run != order.end();) {
      const auto next =
          std::find_if(run, order.end(), [&](const auto& x) { return x.first != run->first; });
      if (next - run > 1) std::sort(run, next, before);
      run = next;
    }
  } else {
    std::sort(order.begin(), order.end(), before);
  }
  for (size_t i = 0; i < order.size(); ++i) handles[i] = order[i].second;
  return handles;
}

void FlowTable::Sweep(uint64_t now_ns) {
  const auto idle = static_cast<uint64_t>(options_.idle_timeout.count());
  const auto active_expired = [&](uint64_t first_ts_ns) {
    return now_ns > first_ts_ns && now_ns - first_ts_ns > options_.step.active_timeout_ns;
  };
  std::vector<uint32_t> ended, open;
  for (uint32_t handle : Live()) {
    const auto [first_ts_ns, last_ts_ns] = TimesOf(handle);
    if (active_expired(first_ts_ns) ||
        (idle > 0 && now_ns > last_ts_ns && now_ns - last_ts_ns > idle))
      ended.push_back(handle);
    else if (options_.detector_events)
      open.push_back(handle);
  }
  for (uint32_t handle : InStartOrder(std::move(open))) {
    events_.OnFlowOpen(Record(handle, FlowEndReason::kIdleTimeout), now_ns);
  }
  // Report in flow start order so the output does not depend on hash order.
  for (uint32_t handle : InStartOrder(std::move(ended))) {
    const bool active = active_expired(TimesOf(handle).first);
    (active ? stats_.flows_ended_active_timeout : stats_.flows_ended_idle_timeout)++;
    const FlowRecord record =
        Record(handle, active ? FlowEndReason::kActiveTimeout : FlowEndReason::kIdleTimeout);
    index_.erase(Probe(record.key));
    Release(handle);
    events_.OnFlowEnd(record);
  }
}

void FlowTable::Flush(FlowEndReason reason) {
  for (uint32_t handle : InStartOrder(Live())) {
    stats_.flows_flushed++;
    events_.OnFlowEnd(Record(handle, reason));
  }
  index_.clear();
  slots_.Clear();
  firsts_.Clear();
}

std::optional<ng_flow> FlowTable::Find(const ng_flow_key& key) const {
  const auto it = index_.find(Probe(key));
  if (it == index_.end()) return std::nullopt;
  ng_flow scratch;
  return FlowOf(it->handle, scratch);
}

}  // namespace netguard::capture::pcap
