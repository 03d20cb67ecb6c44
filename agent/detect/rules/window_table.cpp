#include "detect/rules/window_table.h"

#include <algorithm>
#include <bit>

#include "common/word_hash.h"

namespace netguard::detect::rules {
namespace {

uint64_t HashKey(const RuleKey& k, uint64_t seed) {
  uint64_t h = MixWord(seed, static_cast<uint64_t>(k.family) << 16 | k.port);
  for (int i = 0; i < 4; i += 2) {
    h = MixWord(h, static_cast<uint64_t>(k.a[i]) << 32 | k.a[i + 1]);
    h = MixWord(h, static_cast<uint64_t>(k.b[i]) << 32 | k.b[i + 1]);
  }
  return MixWord(h, k.extra);
}

}  // namespace

size_t RuleKeyHash::operator()(const RuleKey& key) const noexcept {
  return static_cast<size_t>(HashKey(key, 0));
}

size_t WindowKeyHash::operator()(const RuleKey& k) const noexcept {
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ull;
  uint64_t h = k.extra ^ (static_cast<uint64_t>(k.family) << 16 | k.port);
  for (int i = 0; i < 4; i += 2) {
    h = std::rotl((h ^ (static_cast<uint64_t>(k.a[i]) << 32 | k.a[i + 1])) * kMul, 29);
    h = std::rotl((h ^ (static_cast<uint64_t>(k.b[i]) << 32 | k.b[i + 1])) * kMul, 29);
  }
  return static_cast<size_t>(MixWord(h, 0));
}

double Window::Total() const {
  double sum = 0;
  for (double w : weight) sum += w;
  return sum;
}

void Window::VoteSource(uint64_t source, double w) {
  if (source == top_source) {
    top_lead += w;
  } else if (top_lead > w) {
    top_lead -= w;
  } else {
    top_source = source;
    top_lead = w - top_lead;
  }
  top_lead = std::min(top_lead, Total());
}

bool Window::Dominates(uint64_t source, double share) const {
  return source == top_source && top_lead > 0 && top_lead >= share * Total();
}

WindowTable::WindowTable(int64_t window_ns, size_t max_keys, size_t max_seen)
    : window_ns_(window_ns), max_keys_(max_keys), max_seen_(max_seen) {}

void WindowTable::Reconfigure(int64_t window_ns, size_t max_keys, size_t max_seen) {
  window_ns_ = window_ns;
  max_keys_ = max_keys;
  max_seen_ = max_seen;
}

bool WindowTable::Advance(Window& w, int64_t now_ns) const {
  const int64_t bucket_ns = std::max<int64_t>(1, window_ns_ / Window::kBuckets);
  if (w.bucket_start_ns == 0) {
    w.bucket_start_ns = now_ns - now_ns % bucket_ns;
    return false;
  }
  if (now_ns < w.bucket_start_ns + bucket_ns) return false;  // also: a time that stepped back
  const int64_t steps = (now_ns - w.bucket_start_ns) / bucket_ns;
  for (int64_t i = 0; i < std::min<int64_t>(steps, Window::kBuckets); ++i) {
    w.head = static_cast<uint8_t>((w.head + 1) % Window::kBuckets);
    w.weight[w.head] = 0;
  }
  w.bucket_start_ns += steps * bucket_ns;
  return true;
}

void WindowTable::ExpireDistinct(Window& w, int64_t now_ns) const {
  std::erase_if(w.distinct, [&](const auto& kv) { return kv.second <= now_ns - window_ns_; });
}

void WindowTable::ExpireSeen(Window& w, int64_t now_ns) const {
  std::erase_if(w.seen, [&](const Window::Seen& s) { return s.last_ns <= now_ns - window_ns_; });
}

Window& WindowTable::Touch(const RuleKey& key, int64_t now_ns) {
  auto [it, inserted] = windows_.try_emplace(key);
  Window& w = it->second;
  if (inserted) {
    lru_.push_front(key);
    w.lru = lru_.begin();
    w.first_ns = now_ns;
    if (windows_.size() > max_keys_) {
      windows_.erase(lru_.back());
      lru_.pop_back();
      ++evictions_;
    }
  } else {
    lru_.splice(lru_.begin(), lru_, w.lru);
  }
  return Update(w, now_ns);
}

Window& WindowTable::Touch(Window& w, int64_t now_ns) {
  lru_.splice(lru_.begin(), lru_, w.lru);
  return Update(w, now_ns);
}

Window& WindowTable::Update(Window& w, int64_t now_ns) const {
  // Distinct values leave the window at bucket boundaries: once per bucket, not per event.
  if (Advance(w, now_ns) && !w.distinct.empty()) ExpireDistinct(w, now_ns);
  w.last_ns = std::max(w.last_ns, now_ns);
  return w;
}

Window& WindowTable::Add(const RuleKey& key, int64_t now_ns, double weight, bool distinct,
                         uint64_t value) {
  return Record(Touch(key, now_ns), now_ns, weight, distinct, value);
}

Window& WindowTable::Add(Window& w, int64_t now_ns, double weight, bool distinct, uint64_t value) {
  return Record(Touch(w, now_ns), now_ns, weight, distinct, value);
}

Window& WindowTable::Record(Window& w, int64_t now_ns, double weight, bool distinct,
                            uint64_t value) {
  w.weight[w.head] += weight;
  if (!distinct) return w;
  auto [it, inserted] = w.distinct.try_emplace(value, now_ns);
  if (!inserted) {
    it->second = std::max(it->second, now_ns);
    return w;
  }
  w.arrival.push_back(value);
  // Full: drop the earliest arrival still held, so that the newest values count and a long
  // attack keeps its measure at the cap. O(1) amortised: a flood adds a value per event.
  while (w.distinct.size() > max_seen_ && w.arrival_head < w.arrival.size()) {
    const uint64_t first = w.arrival[w.arrival_head++];
    if (first != value) w.distinct.erase(first);
  }
  const size_t held = w.arrival.size() - w.arrival_head;
  if (w.arrival_head > held || held > 2 * w.distinct.size() + 16) {
    // Compact: forget the consumed prefix and arrivals erased by expiry.
    std::vector<uint64_t> kept;
    kept.reserve(w.distinct.size());
    for (size_t i = w.arrival_head; i < w.arrival.size(); ++i) {
      if (w.distinct.count(w.arrival[i])) kept.push_back(w.arrival[i]);
    }
    w.arrival.swap(kept);
    w.arrival_head = 0;
  }
  return w;
}

Window& WindowTable::AddHistory(const RuleKey& key, int64_t now_ns) {
  return RecordHistory(Touch(key, now_ns), now_ns);
}

Window& WindowTable::AddHistory(Window& w, int64_t now_ns) {
  return RecordHistory(Touch(w, now_ns), now_ns);
}

Window& WindowTable::RecordHistory(Window& w, int64_t now_ns) {
  w.weight[w.head] += 1;
  ExpireSeen(w, now_ns);
  if (w.seen.size() >= max_seen_) w.seen.erase(w.seen.begin());
  w.seen.push_back({static_cast<uint64_t>(now_ns), now_ns});
  return w;
}

Window* WindowTable::Find(const RuleKey& key) {
  auto it = windows_.find(key);
  return it == windows_.end() ? nullptr : &it->second;
}

void WindowTable::Expire(int64_t now_ns) {
  while (!lru_.empty()) {
    auto it = windows_.find(lru_.back());
    const Window& w = it->second;
    if (w.last_ns > now_ns - window_ns_ || w.alert_start_ns > now_ns - window_ns_) break;
    windows_.erase(it);
    lru_.pop_back();
  }
}

AdmissionFilter::AdmissionFilter(size_t slots_log2) : slots_(size_t{1} << slots_log2) {}

bool AdmissionFilter::Admit(uint32_t rule, const RuleKey& key, int64_t now_ns, int64_t window_ns,
                            double weight, uint64_t value, Pending& first) {
  const uint64_t h = HashKey(key, 0x5bd1e995u + rule);
  Pending& slot = slots_[h & (slots_.size() - 1)];
  const auto fingerprint = static_cast<uint32_t>(h >> 32) | 1u;  // 0 = empty slot
  if (slot.fingerprint == fingerprint && slot.rule == rule && now_ns - slot.time_ns < window_ns) {
    first = slot;
    slot = {};
    return true;
  }
  slot = {fingerprint, rule, value, weight, now_ns};
  return false;
}

}  // namespace netguard::detect::rules
