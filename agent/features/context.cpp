#include "features/context.h"

#include <algorithm>
#include <cstring>

namespace netguard::features {
namespace {

constexpr int64_t kWindowNs = std::chrono::nanoseconds(kContextWindow).count();
constexpr int64_t kLatenessNs = std::chrono::nanoseconds(FlowContext::kLateness).count();
constexpr int64_t kEvictEveryNs = 1'000'000'000;

enum Kind : uint32_t { kSrc = 1, kSrcDst, kDst, kDstSvc };

}  // namespace

size_t FlowContext::KeyHash::operator()(const Key& k) const {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the words
  for (uint32_t w : k) {
    h ^= w;
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h ^ (h >> 32));
}

uint64_t FlowContext::Count(const Key& key, int64_t end_ns, bool record) {
  std::vector<int64_t>* ends = nullptr;
  if (record) {
    ends = &ends_[key];
    ends->insert(std::upper_bound(ends->begin(), ends->end(), end_ns), end_ns);
    ++entries_;
  } else {
    const auto it = ends_.find(key);
    if (it == ends_.end()) return 1;  // the flow itself
    ends = &it->second;
  }
  const auto first = std::lower_bound(ends->begin(), ends->end(), end_ns - kWindowNs);
  const auto last = std::upper_bound(first, ends->end(), end_ns);
  return static_cast<uint64_t>(last - first) + (record ? 0 : 1);
}

void FlowContext::Evict(int64_t cutoff_ns) {
  for (auto it = ends_.begin(); it != ends_.end();) {
    std::vector<int64_t>& ends = it->second;
    const auto keep = std::lower_bound(ends.begin(), ends.end(), cutoff_ns);
    entries_ -= static_cast<size_t>(keep - ends.begin());
    ends.erase(ends.begin(), keep);
    it = ends.empty() ? ends_.erase(it) : std::next(it);
  }
  evicted_at_ns_ = newest_ns_;
}

void FlowContext::Observe(const FlowRecord& flow, FeatureVector& v) {
  const int64_t end_ns = flow.end_ns;
  newest_ns_ = std::max(newest_ns_, end_ns);
  if (newest_ns_ - evicted_at_ns_ >= kEvictEveryNs) Evict(newest_ns_ - kLatenessNs);
  // Over the cap: forget what is older than the window; still over: count without recording.
  if (entries_ + 4 > kMaxEntries) Evict(newest_ns_ - kWindowNs);
  const bool record = entries_ + 4 <= kMaxEntries;

  const bool a_initiates = flow.acc.initiator == NG_SIDE_A;
  const uint32_t* src = a_initiates ? flow.key.addr_a : flow.key.addr_b;
  const uint32_t* dst = a_initiates ? flow.key.addr_b : flow.key.addr_a;
  const uint16_t dst_port = a_initiates ? flow.key.port_b : flow.key.port_a;
  const uint32_t family = flow.key.family;
  Key key{};
  key[0] = kSrc | family << 8;
  std::memcpy(&key[1], src, 16);
  v[kContextFirst] = static_cast<double>(Count(key, end_ns, record));
  key[0] = kSrcDst | family << 8;
  std::memcpy(&key[5], dst, 16);
  v[kContextFirst + 1] = static_cast<double>(Count(key, end_ns, record));
  key = {};
  key[0] = kDst | family << 8;
  std::memcpy(&key[1], dst, 16);
  v[kContextFirst + 2] = static_cast<double>(Count(key, end_ns, record));
  key[0] = kDstSvc | family << 8;
  key[5] = static_cast<uint32_t>(dst_port) << 8 | flow.key.proto;
  v[kContextFirst + 3] = static_cast<double>(Count(key, end_ns, record));
}

}  // namespace netguard::features
