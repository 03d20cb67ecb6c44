#include "respond/reputation.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "respond/block_manager.h"

namespace netguard::respond {
namespace {

// The host prefix of an address ("10.0.0.1" -> 10.0.0.1/32). Throws std::invalid_argument.
IpPrefix HostPrefix(const std::string& address) {
  if (address.find('/') != std::string::npos) {
    throw std::invalid_argument("'" + address + "' is a prefix, not an address");
  }
  return IpPrefix::Parse(address);
}

// "10.0.0.1/32" -> "10.0.0.1": the canonical text the store and the alerts use.
std::string AddressText(const IpPrefix& host) {
  const std::string text = host.ToString();
  return text.substr(0, text.find('/'));
}

}  // namespace

bool Contains(const std::vector<IpPrefix>& prefixes, const IpPrefix& address) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const IpPrefix& p) { return Overlaps(p, address); });
}

double Reputation::Decay(double score, int64_t score_ns, int64_t now_ns,
                         std::chrono::seconds half_life) {
  if (now_ns <= score_ns || half_life.count() <= 0) return score;
  const double elapsed_s = static_cast<double>(now_ns - score_ns) / 1e9;
  return score * std::exp2(-elapsed_s / static_cast<double>(half_life.count()));
}

Reputation::Reputation(store::Store& store, ReputationOptions options)
    : store_(store), options_(std::move(options)) {
  std::vector<store::ReputationRecord> records = store_.ListReputation();
  // Most recently seen first: those are kept when the store holds more than max_addresses.
  std::sort(records.begin(), records.end(),
            [](const auto& a, const auto& b) { return a.last_seen_ns > b.last_seen_ns; });
  for (store::ReputationRecord& record : records) {
    if (entries_.size() >= options_.max_addresses) {
      store_.RemoveReputation(record.address);
      ++evicted_;
      continue;
    }
    const std::string address = record.address;
    lru_.push_back(address);
    entries_.emplace(
        address, Entry{.record = std::move(record), .recent = {}, .lru = std::prev(lru_.end())});
  }
}

Reputation::Entry& Reputation::Touch(const std::string& address, int64_t now_ns) {
  auto it = entries_.find(address);
  if (it != entries_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return it->second;
  }
  while (!entries_.empty() && entries_.size() >= options_.max_addresses) {
    const std::string oldest = lru_.back();
    lru_.pop_back();
    entries_.erase(oldest);
    store_.RemoveReputation(oldest);
    ++evicted_;
  }
  lru_.push_front(address);
  Entry entry{.record = {.address = address,
                         .score = 0,
                         .score_ns = now_ns,
                         .first_seen_ns = now_ns,
                         .last_seen_ns = now_ns},
              .recent = {},
              .lru = lru_.begin()};
  return entries_.emplace(address, std::move(entry)).first->second;
}

void Reputation::Save(Entry& entry) { store_.PutReputation(entry.record); }

IpReputation Reputation::Record(const Alert& alert) {
  const auto neutral = [] {
    IpReputation none;
    none.verdict = "neutral";
    return none;
  };
  // A sender sampled by a detection keyed by its victim (a flood) may be spoofed: no evidence.
  if (alert.source_sampled) return neutral();
  IpPrefix host;
  try {
    host = HostPrefix(alert.src_addr);
  } catch (const std::invalid_argument&) {
    return neutral();
  }
  const std::string address = AddressText(host);
  const int64_t now = alert.time_ns;
  std::lock_guard lock(mu_);
  Entry& entry = Touch(address, now);
  store::ReputationRecord& r = entry.record;
  const auto severity = static_cast<size_t>(alert.severity);
  double points = options_.severity_points[std::min<size_t>(severity, 3)];
  if (auto weight = options_.class_weights.find(alert.alert_class);
      weight != options_.class_weights.end()) {
    points *= weight->second;
  }
  // Alerts of one source can arrive slightly out of time order (several capture threads):
  // never decay backwards.
  const int64_t at = std::max(now, r.score_ns);
  r.score = Decay(r.score, r.score_ns, at, options_.half_life) + points;
  r.score_ns = at;
  r.first_seen_ns = std::min(r.first_seen_ns, now);
  r.last_seen_ns = std::max(r.last_seen_ns, now);
  ++r.alerts;
  if (!r.promoted && r.score >= options_.malicious_threshold) {
    r.promoted = true;
    spdlog::warn("reputation: {} promoted to malicious (score {:.1f} >= {:.1f})", address, r.score,
                 options_.malicious_threshold);
  } else if (r.promoted && r.score < options_.malicious_threshold / 2) {
    r.promoted = false;
  }
  if (alert.id > 0) {
    entry.recent.push_back(alert.id);
    if (entry.recent.size() > kRecentAlerts) entry.recent.pop_front();
  }
  Save(entry);
  return View(address, &entry, now);
}

IpReputation Reputation::View(const std::string& address, const Entry* entry,
                              int64_t now_ns) const {
  IpReputation v;
  v.address = address;
  const IpPrefix host = HostPrefix(address);
  v.allowlisted = Contains(allowlist_, host);
  v.in_blocklist_file = Contains(blocklist_, host);
  if (entry) {
    const store::ReputationRecord& r = entry->record;
    v.score = Decay(r.score, r.score_ns, now_ns, options_.half_life);
    v.promoted = r.promoted && v.score >= options_.malicious_threshold / 2;
    v.offences = r.offences;
    v.alerts = r.alerts;
    v.first_seen_ns = r.first_seen_ns;
    v.last_seen_ns = r.last_seen_ns;
    v.recent_alert_ids.assign(entry->recent.begin(), entry->recent.end());
  }
  if (v.allowlisted) {
    v.verdict = "allowlisted";
  } else if (v.listed_malicious()) {
    v.verdict = "malicious";
  } else if (v.score >= options_.suspicious_threshold) {
    v.verdict = "suspicious";
  } else {
    v.verdict = "neutral";
  }
  return v;
}

IpReputation Reputation::Get(const std::string& address, int64_t now_ns) const {
  const std::string canonical = AddressText(HostPrefix(address));
  std::lock_guard lock(mu_);
  const auto it = entries_.find(canonical);
  return View(canonical, it == entries_.end() ? nullptr : &it->second, now_ns);
}

uint32_t Reputation::AddOffence(const std::string& address, int64_t now_ns) {
  const std::string canonical = AddressText(HostPrefix(address));
  std::lock_guard lock(mu_);
  Entry& entry = Touch(canonical, now_ns);
  ++entry.record.offences;
  Save(entry);
  return entry.record.offences;
}

void Reputation::SetLists(std::vector<IpPrefix> allowlist, std::vector<IpPrefix> blocklist) {
  std::lock_guard lock(mu_);
  allowlist_ = std::move(allowlist);
  blocklist_ = std::move(blocklist);
}

void Reputation::set_options(ReputationOptions options) {
  std::lock_guard lock(mu_);
  options_ = std::move(options);
  while (entries_.size() > options_.max_addresses) {
    const std::string oldest = lru_.back();
    lru_.pop_back();
    entries_.erase(oldest);
    store_.RemoveReputation(oldest);
    ++evicted_;
  }
}

size_t Reputation::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

uint64_t Reputation::evicted() const {
  std::lock_guard lock(mu_);
  return evicted_;
}

}  // namespace netguard::respond
