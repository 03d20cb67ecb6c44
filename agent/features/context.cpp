#include "features/context.h"

#include <algorithm>
#include <cstring>

namespace netguard::features {
namespace {

constexpr int64_t kWindowNs = std::chrono::nanoseconds(kContextWindow).count();
constexpr int64_t kLatenessNs = std::chrono::nanoseconds(FlowContext::kLateness).count();
constexpr int kExpiryBudget = 8;  // keys looked at per flow: > the 4 a flow can add
constexpr size_t kCompactAt = 1024;
constexpr size_t kLateMerge = 64;  // late ends kept apart at least up to this many

enum Kind : uint32_t { kSrc = 1, kSrcDst, kDst, kDstSvc };

}  // namespace

void FlowContext::Forget(Slot& slot, int64_t cutoff_ns) {
  // head only moves forward: amortised O(1) per end
  const size_t old_head = slot.head;
  while (slot.head < slot.ends.size() && slot.ends[slot.head] < cutoff_ns) ++slot.head;
  entries_ -= slot.head - old_head;
  // Each end is moved at most once per doubling: amortised O(1) per end.
  if (slot.head >= kCompactAt && slot.head * 2 >= slot.ends.size()) {
    slot.ends.erase(slot.ends.begin(), slot.ends.begin() + static_cast<std::ptrdiff_t>(slot.head));
    slot.cursor -= std::min(slot.cursor, slot.head);
    slot.head = 0;
  }
  if (!slot.late.empty() && slot.late.front() < cutoff_ns) {
    const auto keep = std::lower_bound(slot.late.begin(), slot.late.end(), cutoff_ns);
    entries_ -= static_cast<size_t>(keep - slot.late.begin());
    slot.late.erase(slot.late.begin(), keep);
  }
}

void FlowContext::Insert(Slot& slot, int64_t end_ns) {
  auto& ends = slot.ends;
  if (ends.size() == slot.head || ends.back() <= end_ns) {
    ends.push_back(end_ns);  // the usual case: flows finish in about time order
    return;
  }
  slot.late.insert(std::upper_bound(slot.late.begin(), slot.late.end(), end_ns), end_ns);
  const size_t kept = ends.size() - slot.head;
  if (slot.late.size() < kLateMerge || slot.late.size() * slot.late.size() < kept) return;
  const auto middle = ends.insert(ends.end(), slot.late.begin(), slot.late.end());
  std::inplace_merge(ends.begin() + static_cast<std::ptrdiff_t>(slot.head), middle, ends.end());
  slot.late.clear();
  slot.cursor = slot.head;  // ends moved under the cursor: the next window searches afresh
  slot.cursor_from = INT64_MIN;
}

void FlowContext::ExpireKeys(int64_t cutoff_ns, int budget) {
  while (budget-- > 0 && !expiry_.empty() && expiry_.front().first < cutoff_ns) {
    const Key key = expiry_.front().second;
    expiry_.pop_front();
    const auto it = slots_.find(key);
    if (it == slots_.end()) continue;
    Slot& slot = it->second;
    if (slot.ends.back() < cutoff_ns) {
      entries_ -= slot.ends.size() - slot.head + slot.late.size();
      slots_.erase(it);
    } else {
      Forget(slot, cutoff_ns);
      expiry_.emplace_back(slot.ends.back(), key);  // still in use: looked at again later
    }
  }
}

uint64_t FlowContext::Count(const Key& key, int64_t end_ns, bool record, int64_t cutoff_ns) {
  Slot* slot = nullptr;
  if (record) {
    const auto [it, added] = slots_.try_emplace(key);
    slot = &it->second;
    if (added) expiry_.emplace_back(end_ns, key);
    Forget(*slot, cutoff_ns);
    Insert(*slot, end_ns);
    ++entries_;
  } else {
    const auto it = slots_.find(key);
    if (it == slots_.end()) return 1;  // the flow itself
    slot = &it->second;
  }
  const int64_t from = end_ns - kWindowNs;
  const auto& ends = slot->ends;
  const auto begin = ends.begin() + static_cast<std::ptrdiff_t>(slot->head);
  const auto last = ends.size() == slot->head || ends.back() <= end_ns
                        ? ends.end()
                        : std::upper_bound(begin, ends.end(), end_ns);
  auto first = begin;
  if (from >= slot->cursor_from) {
    first += static_cast<std::ptrdiff_t>(std::max(slot->cursor, slot->head) - slot->head);
    while (first != last && *first < from) ++first;
    slot->cursor = static_cast<size_t>(first - ends.begin());
    slot->cursor_from = from;
  } else {
    first = std::lower_bound(begin, last, from);
  }
  uint64_t count = static_cast<uint64_t>(last - first) + (record ? 0 : 1);
  if (!slot->late.empty()) {
    const auto late_first = std::lower_bound(slot->late.begin(), slot->late.end(), from);
    count +=
        static_cast<uint64_t>(std::upper_bound(late_first, slot->late.end(), end_ns) - late_first);
  }
  return count;
}

void FlowContext::Observe(const FlowRecord& flow, FeatureVector& v) {
  const int64_t end_ns = flow.end_ns;
  newest_ns_ = std::max(newest_ns_, end_ns);
  // Past half the cap (a flood), keep the window's ends only.
  const int64_t cutoff_ns = newest_ns_ - (entries_ > kMaxEntries / 2 ? kWindowNs : kLatenessNs);
  ExpireKeys(cutoff_ns, kExpiryBudget);
  const bool record = entries_ + 4 <= kMaxEntries;  // full: count, but remember no more

  const bool a_initiates = flow.acc.initiator == NG_SIDE_A;
  const uint32_t* src = a_initiates ? flow.key.addr_a : flow.key.addr_b;
  const uint32_t* dst = a_initiates ? flow.key.addr_b : flow.key.addr_a;
  const uint16_t dst_port = a_initiates ? flow.key.port_b : flow.key.port_a;
  const uint32_t family = flow.key.family;
  std::array<Key, 4> keys{};
  keys[0][0] = kSrc | family << 8;
  std::memcpy(&keys[0][1], src, 16);
  keys[1] = keys[0];
  keys[1][0] = kSrcDst | family << 8;
  std::memcpy(&keys[1][5], dst, 16);
  keys[2][0] = kDst | family << 8;
  std::memcpy(&keys[2][1], dst, 16);
  keys[3] = keys[2];
  keys[3][0] = kDstSvc | family << 8;
  keys[3][5] = static_cast<uint32_t>(dst_port) << 8 | flow.key.proto;
  // The four lookups miss the cache alike on a busy table: fetch their groups together.
  for (const Key& key : keys) slots_.prefetch(key);
  for (size_t i = 0; i < keys.size(); ++i)
    v[kContextFirst + i] = static_cast<double>(Count(keys[i], end_ns, record, cutoff_ns));
}

}  // namespace netguard::features
