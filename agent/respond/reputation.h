// IP reputation: allowlist and blocklist files, and a per-address score that alerts raise and
// time decays, promoted to "malicious" above a threshold. Persisted in the store.
#ifndef NETGUARD_AGENT_RESPOND_REPUTATION_H_
#define NETGUARD_AGENT_RESPOND_REPUTATION_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/ip_prefix.h"
#include "core/alert.h"
#include "store/store.h"

namespace netguard::respond {

/// How alerts raise scores and how scores fade.
struct ReputationOptions {
  /// A score halves every half_life without new alerts.
  std::chrono::seconds half_life{3600};
  /// Verdict "suspicious" from this score on ...
  double suspicious_threshold = 20;
  /// ... and "malicious" (promotion) from this one. A promoted address is demoted when its
  /// decayed score falls below half of it (hysteresis: no flapping at the threshold).
  double malicious_threshold = 100;
  /// Addresses tracked at most (memory and store); beyond it the least recently seen goes.
  size_t max_addresses = 100000;
  /// Points an alert adds, by severity (info, warning, high, critical) ...
  std::array<double, 4> severity_points{1, 10, 40, 100};
  /// ... times the weight of its class (absent classes weigh 1).
  std::map<std::string, double, std::less<>> class_weights{};
};

/// An address as the reputation sees it now.
struct IpReputation {
  std::string address;  // canonical text
  double score = 0;     // decayed to the time of the query
  std::string verdict;  // "allowlisted", "malicious", "suspicious" or "neutral"
  bool allowlisted = false;
  bool in_blocklist_file = false;
  bool promoted = false;  // by score
  uint32_t offences = 0;  // automatic blocks so far
  uint64_t alerts = 0;    // alerts that raised the score
  int64_t first_seen_ns = 0;
  int64_t last_seen_ns = 0;
  std::vector<int64_t> recent_alert_ids;  // newest last, at most kRecentAlerts (since start)

  /// In a blocklist file or promoted by score.
  bool listed_malicious() const { return in_blocklist_file || promoted; }
};

/// Thread-safe. Every change is written to the store before the call returns.
class Reputation {
 public:
  static constexpr size_t kRecentAlerts = 16;

  /// Loads the stored scores (the most recently seen max_addresses of them). Throws StoreError.
  Reputation(store::Store& store, ReputationOptions options);

  /// Raises the score of alert.src_addr by the alert's points (decaying the old score to
  /// alert.time_ns first), promotes it when it crosses the malicious threshold, remembers the
  /// alert id. Returns the address's reputation after the alert. An alert without a parsable
  /// source address changes nothing (verdict "neutral", empty address), nor does one whose
  /// source is only sampled (Alert::source_sampled: a flood's sender, maybe spoofed).
  IpReputation Record(const Alert& alert);
  /// The reputation of `address` at `now_ns` (unknown addresses: score 0, verdict from the
  /// lists). Throws std::invalid_argument when `address` is not an IP address.
  IpReputation Get(const std::string& address, int64_t now_ns) const;
  /// Counts one more automatic block of `address`; returns the new number of offences.
  uint32_t AddOffence(const std::string& address, int64_t now_ns);

  /// Replaces the allowlist (config allowlist and allowlist files) and the blocklist files'
  /// prefixes.
  void SetLists(std::vector<IpPrefix> allowlist, std::vector<IpPrefix> blocklist);
  /// New options (SIGHUP); scores are kept.
  void set_options(ReputationOptions options);

  /// Addresses tracked now.
  size_t size() const;
  /// Addresses dropped to keep max_addresses, since start.
  uint64_t evicted() const;

  /// `score` at `score_ns` decayed to `now_ns` with `half_life` (no growth for now < score_ns).
  static double Decay(double score, int64_t score_ns, int64_t now_ns,
                      std::chrono::seconds half_life);

 private:
  struct Entry {
    store::ReputationRecord record;
    std::deque<int64_t> recent;  // alert ids, newest last
    std::list<std::string>::iterator lru;
  };

  Entry& Touch(const std::string& address, int64_t now_ns);  // finds or creates, evicts
  IpReputation View(const std::string& address, const Entry* entry, int64_t now_ns) const;
  void Save(Entry& entry);

  store::Store& store_;
  mutable std::mutex mu_;
  ReputationOptions options_;
  std::vector<IpPrefix> allowlist_;
  std::vector<IpPrefix> blocklist_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // most recently seen first
  uint64_t evicted_ = 0;
};

/// True when `address` (a host prefix) lies in one of `prefixes`.
bool Contains(const std::vector<IpPrefix>& prefixes, const IpPrefix& address);

}  // namespace netguard::respond

#endif  // NETGUARD_AGENT_RESPOND_REPUTATION_H_
