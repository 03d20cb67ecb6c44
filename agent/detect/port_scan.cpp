#include "detect/port_scan.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace netguard::detect {

size_t PortScanDetector::Hash::operator()(const Address& a) const {
  // splitmix64's finalizer over the words: IPv4 addresses differ only in some bytes of one word,
  // which a plain FNV step leaves in a few bits.
  uint64_t h = a.family;
  for (uint32_t w : a.words) {
    h = (h ^ w) + 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    h ^= h >> 31;
  }
  return static_cast<size_t>(h);
}

size_t PortScanDetector::Hash::operator()(const Target& t) const {
  return (*this)(t.host) ^ (static_cast<size_t>(t.port) * 0x9e3779b97f4a7c15ull);
}

PortScanDetector::PortScanDetector(PortScanOptions options) : options_(options) {}

int64_t PortScanDetector::window_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(options_.window).count();
}

void PortScanDetector::Expire(Source& source, int64_t now_ns) {
  auto& probes = source.probes;
  while (source.first < probes.size() && probes[source.first].time_ns <= now_ns - window_ns()) {
    auto it = source.open.find(probes[source.first].target);
    if (--it->second == 0) source.open.erase(it);
    ++source.first;
  }
  if (source.first == probes.size()) {
    probes.clear();
    source.first = 0;
  } else if (source.first > probes.size() / 2) {  // compact: amortised O(1) per probe
    probes.erase(probes.begin(), probes.begin() + static_cast<std::ptrdiff_t>(source.first));
    source.first = 0;
  }
}

void PortScanDetector::OnFlowStart(const FlowRecord& flow, AlertSink& sink) {
  const ng_flow_key& k = flow.key;
  if (k.proto != 6 && k.proto != 17) return;
  const bool a_initiated = flow.acc.initiator == NG_SIDE_A;
  Address src{.family = k.family};
  Target dst{.host = {.family = k.family}, .port = a_initiated ? k.port_b : k.port_a};
  std::copy_n(a_initiated ? k.addr_a : k.addr_b, 4, src.words.begin());
  std::copy_n(a_initiated ? k.addr_b : k.addr_a, 4, dst.host.words.begin());
  const int64_t now = flow.start_ns;

  auto [it, inserted] = sources_.try_emplace(src);
  Source& source = it->second;
  if (inserted) {
    lru_.push_front(src);
    source.lru = lru_.begin();
    if (sources_.size() > options_.max_sources) {
      sources_.erase(lru_.back());
      lru_.pop_back();
      ++evicted_;
    }
  } else {
    lru_.splice(lru_.begin(), lru_, source.lru);
  }

  Expire(source, now);
  ++source.open[dst];
  source.probes.push_back({now, dst});

  if (source.open.size() < options_.distinct_ports) return;
  if (source.alerted_ns != 0 && now - source.alerted_ns < window_ns()) return;
  source.alerted_ns = now;
  Alert(flow, source, now, sink);
}

void PortScanDetector::Alert(const FlowRecord& flow, const Source& source, int64_t now,
                             AlertSink& sink) const {
  // Evidence: the counters of the rule, the targets and the ports reached.
  std::map<std::string, uint32_t> per_host;
  std::set<uint16_t> ports;
  for (const auto& [target, count] : source.open) {
    ++per_host[AddressText(target.host.words.data(), target.host.family)];
    ports.insert(target.port);
  }
  std::string main_target;
  uint32_t most = 0;
  for (const auto& [host, count] : per_host) {
    if (count > most) most = count, main_target = host;
  }
  std::vector<uint16_t> sample(ports.begin(), ports.end());
  sample.resize(std::min<size_t>(sample.size(), 32));
  const nlohmann::json evidence = {
      {"distinct_targets", source.open.size()},
      {"threshold", options_.distinct_ports},
      {"window_s", options_.window.count()},
      {"flows_in_window", source.probes.size() - source.first},
      {"first_probe_ns", source.probes[source.first].time_ns},
      {"hosts", per_host},
      {"ports_sample", sample},
  };

  netguard::Alert alert;
  alert.time_ns = now;
  alert.src_addr = Initiator(flow).address;
  alert.dst_addr = main_target;
  alert.protocol = flow.key.proto;
  alert.alert_class = "PortScan";
  alert.score = 1.0;
  alert.severity =
      source.open.size() >= 4u * options_.distinct_ports ? Severity::kHigh : Severity::kWarning;
  alert.mitre_technique = "T1046";
  alert.detector = std::string(name());
  alert.evidence_json = evidence.dump();
  sink.Emit(std::move(alert));
}

void PortScanDetector::OnTick(int64_t now_ns) {
  // Drop sources whose window has emptied, so memory follows the active scanners only.
  for (auto it = lru_.end(); it != lru_.begin();) {
    --it;
    Source& source = sources_.at(*it);
    Expire(source, now_ns);
    if (source.first < source.probes.size() || now_ns - source.alerted_ns < window_ns()) break;
    sources_.erase(*it);
    it = lru_.erase(it);
  }
}

}  // namespace netguard::detect
