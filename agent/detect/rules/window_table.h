// Bounded per-key rolling windows of one rule: event weights in buckets, distinct values with
// their last time, and the rule's alert bookkeeping. Keys are created lazily (on their second
// event, through an admission filter shared by all rules) and evicted least recently used.
#ifndef NETGUARD_AGENT_DETECT_RULES_WINDOW_TABLE_H_
#define NETGUARD_AGENT_DETECT_RULES_WINDOW_TABLE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

#include "detect/rules/baseline.h"

namespace netguard::detect::rules {

/// A window key: up to two addresses, a port and an extra 64-bit value (a DNS domain hash, a
/// MAC address), depending on the rule's KeyBy.
struct RuleKey {
  std::array<uint32_t, 4> a{};
  std::array<uint32_t, 4> b{};
  uint64_t extra = 0;
  uint16_t port = 0;
  uint8_t family = 0;
  friend bool operator==(const RuleKey& x, const RuleKey& y) noexcept {
    // Word by word: the defaulted comparison calls memcmp for each array.
    uint32_t diff = x.family ^ y.family;
    for (int i = 0; i < 4; ++i) diff |= (x.a[i] ^ y.a[i]) | (x.b[i] ^ y.b[i]);
    return diff == 0 && x.extra == y.extra && x.port == y.port;
  }
};

/// The key's hash as distinct values (IPv6 addresses) and the admission filter's slots use it:
/// its values shape what the rules count, so it stays as it is.
struct RuleKeyHash {
  size_t operator()(const RuleKey& key) const noexcept;
};

/// A cheaper hash that only places windows in WindowTable's map (one multiply per word and one
/// final mix, against six full mixes): no result depends on it.
struct WindowKeyHash {
  size_t operator()(const RuleKey& key) const noexcept;
};

/// The rolling window of one key.
struct Window {
  static constexpr int kBuckets = 8;      // the window is 8 buckets; the oldest drops as time moves
  int64_t bucket_start_ns = 0;            // start of the newest bucket
  std::array<double, kBuckets> weight{};  // summed weights per bucket, newest at `head`
  uint8_t head = 0;
  struct Seen {
    uint64_t value;
    int64_t last_ns;
  };
  std::vector<Seen> seen;  // event times (history) or the last MAC (arp), capped
  std::unordered_map<uint64_t, int64_t> distinct;  // distinct value -> last time, capped
  // Distinct values in insertion order from arrival_head on (may hold erased ones). A vector,
  // not a deque: a deque's first push allocates 512 bytes per window, which a flood multiplies.
  std::vector<uint64_t> arrival;
  size_t arrival_head = 0;
  int64_t first_ns = 0;        // first event still counted
  int64_t last_ns = 0;         // latest event
  int64_t alert_start_ns = 0;  // start of the current aggregation period, 0 = none
  double alert_value = 0;      // measure when last alerted
  std::list<RuleKey>::iterator lru;
  std::unique_ptr<SourceBaseline> baseline;  // volumetric_ddos: the destination's baseline
  // Flood rules: the leading sender of a weighted majority vote (Boyer-Moore) and its lead over
  // all the others since it took the lead, at most the window's total.
  uint64_t top_source = 0;
  double top_lead = 0;

  /// Sum of the weights within the window.
  double Total() const;
  /// Counts `weight` from `source` (a hash of the sender's address) in the vote.
  void VoteSource(uint64_t source, double weight);
  /// Whether `source` leads the vote by at least `share` of the window's total: it then sent at
  /// least that share of what the window counts (a single-source flood, not spoofed ones).
  bool Dominates(uint64_t source, double share) const;
};

/// Holds the windows of one rule.
class WindowTable {
 public:
  /// `window_ns` the rule's window, `max_keys` the bound on tracked keys, `max_seen` the bound
  /// on distinct values per key.
  WindowTable(int64_t window_ns, size_t max_keys, size_t max_seen);

  /// Adds an event to `key`'s window; creates the window if needed. Returns it.
  Window& Add(const RuleKey& key, int64_t now_ns, double weight, bool distinct, uint64_t value);
  /// The same on a window Find() returned: no second lookup.
  Window& Add(Window& w, int64_t now_ns, double weight, bool distinct, uint64_t value);
  /// Adds a time to `key`'s history (the newest `max_seen` are kept).
  Window& AddHistory(const RuleKey& key, int64_t now_ns);
  Window& AddHistory(Window& w, int64_t now_ns);
  /// The window of `key`, or nullptr.
  Window* Find(const RuleKey& key);
  /// Drops keys whose window has emptied (and are not in an alert period).
  void Expire(int64_t now_ns);
  /// New settings after a reload; windows are kept.
  void Reconfigure(int64_t window_ns, size_t max_keys, size_t max_seen);

  size_t size() const { return windows_.size(); }
  uint64_t evictions() const { return evictions_; }
  int64_t window_ns() const { return window_ns_; }

 private:
  Window& Touch(const RuleKey& key, int64_t now_ns);
  Window& Touch(Window& w, int64_t now_ns);  // an existing window
  Window& Update(Window& w, int64_t now_ns) const;
  Window& Record(Window& w, int64_t now_ns, double weight, bool distinct, uint64_t value);
  Window& RecordHistory(Window& w, int64_t now_ns);
  /// Moves the buckets to `now_ns`; true when a bucket boundary passed.
  bool Advance(Window& w, int64_t now_ns) const;
  void ExpireSeen(Window& w, int64_t now_ns) const;
  void ExpireDistinct(Window& w, int64_t now_ns) const;

  int64_t window_ns_;
  size_t max_keys_;
  size_t max_seen_;
  std::unordered_map<RuleKey, Window, WindowKeyHash> windows_;
  std::list<RuleKey> lru_;  // most recently active first
  uint64_t evictions_ = 0;
};

/// Remembers one event per slot so that a key gets a window only on its second event: a flood
/// of sources seen once each costs this fixed table, not a window apiece.
class AdmissionFilter {
 public:
  explicit AdmissionFilter(size_t slots_log2 = 18);
  /// The first event of a key, remembered in its slot.
  struct Pending {
    uint32_t fingerprint = 0;
    uint32_t rule = 0;
    uint64_t value = 0;
    double weight = 0;
    int64_t time_ns = 0;
  };
  /// Whether `key` of `rule` was seen before within `window_ns`; returns its first event
  /// through `first` (and forgets it). Otherwise remembers this event and returns false.
  bool Admit(uint32_t rule, const RuleKey& key, int64_t now_ns, int64_t window_ns, double weight,
             uint64_t value, Pending& first);
  size_t bytes() const { return slots_.size() * sizeof(Pending); }

 private:
  std::vector<Pending> slots_;
};

}  // namespace netguard::detect::rules

#endif  // NETGUARD_AGENT_DETECT_RULES_WINDOW_TABLE_H_
