#include "features/context.h"

#include <algorithm>
#include <cstring>
#include <memory>

namespace netguard::features {
namespace {

constexpr int64_t kWindowNs = std::chrono::nanoseconds(kContextWindow).count();
constexpr int64_t kLatenessNs = std::chrono::nanoseconds(FlowContext::kLateness).count();
constexpr int kExpiryBudget = 8;  // keys looked at per flow: > the 4 a flow can add
constexpr size_t kCompactAt = 1024;
constexpr size_t kLateMerge = 64;  // late ends kept apart at least up to this many

enum Kind : uint64_t { kSrc = 1, kSrcDst, kDst, kDstSvc };

}  // namespace

void FlowContext::Forget(Slot& slot, int64_t cutoff_ns) {
  if (slot.many != 0) return Forget(ManyOf(slot), cutoff_ns);
  if (slot.kept && slot.newest < cutoff_ns) {
    slot.kept = false;  // `newest` stays: it still decides when the key goes
    --entries_;
  }
}

void FlowContext::Forget(Ends& e, int64_t cutoff_ns) {
  // head only moves forward: amortised O(1) per end
  const size_t old_head = e.head;
  while (e.head < e.ends.size() && e.ends[e.head] < cutoff_ns) ++e.head;
  entries_ -= e.head - old_head;
  // Each end is moved at most once per doubling: amortised O(1) per end.
  if (e.head >= kCompactAt && e.head * 2 >= e.ends.size()) {
    e.ends.erase(e.ends.begin(), e.ends.begin() + static_cast<std::ptrdiff_t>(e.head));
    e.cursor -= std::min(e.cursor, e.head);
    e.head = 0;
  }
  if (!e.late.empty() && e.late.front() < cutoff_ns) {
    const auto keep = std::lower_bound(e.late.begin(), e.late.end(), cutoff_ns);
    entries_ -= static_cast<size_t>(keep - e.late.begin());
    e.late.erase(e.late.begin(), keep);
  }
}

void FlowContext::Insert(Ends& e, int64_t end_ns) {
  auto& ends = e.ends;
  if (ends.size() == e.head || ends.back() <= end_ns) {
    ends.push_back(end_ns);  // the usual case: flows finish in about time order
    return;
  }
  e.late.insert(std::upper_bound(e.late.begin(), e.late.end(), end_ns), end_ns);
  const size_t kept = ends.size() - e.head;
  if (e.late.size() < kLateMerge || e.late.size() * e.late.size() < kept) return;
  const auto middle = ends.insert(ends.end(), e.late.begin(), e.late.end());
  std::inplace_merge(ends.begin() + static_cast<std::ptrdiff_t>(e.head), middle, ends.end());
  e.late.clear();
  e.cursor = e.head;  // ends moved under the cursor: the next window searches afresh
  e.cursor_from = INT64_MIN;
}

FlowContext::Ends& FlowContext::Spill(Slot& slot) {
  if (free_many_.empty()) {
    many_.emplace_back();
    slot.many = static_cast<uint32_t>(many_.size());
  } else {
    slot.many = free_many_.back() + 1;
    free_many_.pop_back();
  }
  Ends& e = ManyOf(slot);
  e.ends.push_back(slot.newest);  // kept: a forgotten one end is replaced instead
  return e;
}

void FlowContext::Add(const IndexKey& probe, int64_t end_ns) {
  slots_.Reserve();
  const uint32_t s = slots_.Take();
  Slot& slot = slots_.At(s);
  slot.key = *probe.key;
  slot.hash = probe.hash;
  slot.many = 0;
  slot.newest = end_ns;
  slot.kept = true;
  try {
    index_.insert(SlotIndexEntry{s, probe.hash});
  } catch (...) {  // the index could not grow: the key is not kept
    slots_.Release(s);
    throw;
  }
  expiry_.emplace_back(end_ns, s);
  ++entries_;
}

void FlowContext::Remove(uint32_t s) {
  Slot& slot = slots_.At(s);
  index_.erase(IndexKey{&slot.key, slot.hash});
  if (slot.many != 0) {
    // Frees a flooded key's ends now, not when reused (anew in place: assigning Ends{} trips
    // GCC's -Wmaybe-uninitialized in InlinedVector's move).
    Ends& e = ManyOf(slot);
    std::destroy_at(&e);
    std::construct_at(&e);
    free_many_.push_back(slot.many - 1);
  }
  slots_.Release(s);
}

void FlowContext::ExpireKeys(int64_t cutoff_ns, int budget) {
  while (budget-- > 0 && !expiry_.empty() && expiry_.front().first < cutoff_ns) {
    // A key is queued once, from when it is added until it goes: its slot is not reused before.
    const uint32_t s = expiry_.front().second;
    expiry_.pop_front();
    Slot& slot = slots_.At(s);
    const int64_t newest = Newest(slot);  // Forget keeps it unless every end goes
    Forget(slot, cutoff_ns);
    if (newest < cutoff_ns) {
      Remove(s);
    } else {
      expiry_.emplace_back(newest, s);  // still in use: looked at again later
    }
  }
}

uint64_t FlowContext::Count(const IndexKey& probe, int64_t end_ns, bool record, int64_t cutoff_ns) {
  const auto it = index_.find(probe);
  if (it == index_.end()) {
    if (record) Add(probe, end_ns);
    return 1;  // the flow itself
  }
  Slot& slot = slots_.At(it->handle);
  if (!record) {
    if (slot.many != 0) return CountMany(ManyOf(slot), end_ns, false);
    return 1 + (slot.kept && slot.newest >= end_ns - kWindowNs && slot.newest <= end_ns);
  }
  Forget(slot, cutoff_ns);
  ++entries_;
  if (slot.many == 0 && !slot.kept) {  // its one end forgotten: this end takes its place
    slot.newest = end_ns;
    slot.kept = true;
    return 1;
  }
  Ends& e = slot.many == 0 ? Spill(slot) : ManyOf(slot);
  Insert(e, end_ns);
  return CountMany(e, end_ns, true);
}

uint64_t FlowContext::CountMany(Ends& e, int64_t end_ns, bool record) {
  const int64_t from = end_ns - kWindowNs;
  const auto& ends = e.ends;
  const auto begin = ends.begin() + static_cast<std::ptrdiff_t>(e.head);
  const auto last = ends.size() == e.head || ends.back() <= end_ns
                        ? ends.end()
                        : std::upper_bound(begin, ends.end(), end_ns);
  auto first = begin;
  if (from >= e.cursor_from) {
    first += static_cast<std::ptrdiff_t>(std::max(e.cursor, e.head) - e.head);
    while (first != last && *first < from) ++first;
    e.cursor = static_cast<size_t>(first - ends.begin());
    e.cursor_from = from;
  } else {
    first = std::lower_bound(begin, last, from);
  }
  uint64_t count = static_cast<uint64_t>(last - first) + (record ? 0 : 1);
  if (!e.late.empty()) {
    const auto late_first = std::lower_bound(e.late.begin(), e.late.end(), from);
    count += static_cast<uint64_t>(std::upper_bound(late_first, e.late.end(), end_ns) - late_first);
  }
  return count;
}

void FlowContext::Observe(const FlowRecord& flow, FeatureVector& v) {
  const int64_t end_ns = flow.end_ns;
  newest_ns_ = std::max(newest_ns_, end_ns);
  // Past half the cap (a flood), keep the window's ends only.
  const int64_t cutoff_ns = newest_ns_ - (entries_ > kMaxEntries / 2 ? kWindowNs : kLatenessNs);
  const bool a_initiates = flow.acc.initiator == NG_SIDE_A;
  const uint32_t* src = a_initiates ? flow.key.addr_a : flow.key.addr_b;
  const uint32_t* dst = a_initiates ? flow.key.addr_b : flow.key.addr_a;
  const uint16_t dst_port = a_initiates ? flow.key.port_b : flow.key.port_a;
  uint64_t s[2], d[2];
  std::memcpy(s, src, 16);
  std::memcpy(d, dst, 16);
  const uint64_t family = uint64_t{flow.key.family} << 8;
  const uint64_t service = uint64_t{dst_port} << 40 | uint64_t{flow.key.proto} << 32;
  const std::array<Key, 4> keys = {
      Key{kSrc | family, s[0], s[1], 0, 0}, Key{kSrcDst | family, s[0], s[1], d[0], d[1]},
      Key{kDst | family, d[0], d[1], 0, 0}, Key{kDstSvc | family | service, d[0], d[1], 0, 0}};
  std::array<IndexKey, 4> probes;
  for (size_t i = 0; i < keys.size(); ++i) {
    probes[i] = ProbeOf(keys[i]);
    index_.prefetch(probes[i]);  // the four lookups may miss the cache alike: fetch together
  }
  // Expiry's own lookups overlap the fetches (it may remove a prefetched key: a hint only).
  ExpireKeys(cutoff_ns, kExpiryBudget);
  const bool record = entries_ + 4 <= kMaxEntries;  // full: count, but remember no more
  for (size_t i = 0; i < keys.size(); ++i)
    v[kContextFirst + i] = static_cast<double>(Count(probes[i], end_ns, record, cutoff_ns));
}

}  // namespace netguard::features
