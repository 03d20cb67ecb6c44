#include "detect/port_scan.h"

#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace netguard::detect {

PortScanDetector::PortScanDetector(PortScanOptions options) : options_(options) {}

int64_t PortScanDetector::window_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(options_.window).count();
}

void PortScanDetector::Expire(Source& source, int64_t now_ns) {
  while (!source.probes.empty() && source.probes.front().time_ns <= now_ns - window_ns()) {
    auto it = source.open.find(source.probes.front().target);
    if (--it->second == 0) source.open.erase(it);
    source.probes.pop_front();
  }
}

void PortScanDetector::OnFlowStart(const FlowRecord& flow, AlertSink& sink) {
  if (flow.key.proto != 6 && flow.key.proto != 17) return;
  const Endpoint src = Initiator(flow);
  const Endpoint dst = Responder(flow);
  const int64_t now = flow.start_ns;

  auto [it, inserted] = sources_.try_emplace(src.address);
  Source& source = it->second;
  if (inserted) {
    lru_.push_front(src.address);
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
  std::string target = dst.address + ":" + std::to_string(dst.port);
  ++source.open[target];
  source.probes.push_back({now, std::move(target)});

  if (source.open.size() < options_.distinct_ports) return;
  if (source.alerted_ns != 0 && now - source.alerted_ns < window_ns()) return;
  source.alerted_ns = now;

  // Evidence: the counters of the rule, the targets and the ports reached.
  std::map<std::string, uint32_t> per_host;
  std::set<uint16_t> ports;
  for (const auto& [t, count] : source.open) {
    const size_t colon = t.rfind(':');
    ++per_host[t.substr(0, colon)];
    ports.insert(static_cast<uint16_t>(std::stoul(t.substr(colon + 1))));
  }
  std::string main_target = dst.address;
  uint32_t most = 0;
  for (const auto& [host, count] : per_host) {
    if (count > most) most = count, main_target = host;
  }
  nlohmann::json evidence = {
      {"distinct_targets", source.open.size()},
      {"threshold", options_.distinct_ports},
      {"window_s", options_.window.count()},
      {"flows_in_window", source.probes.size()},
      {"first_probe_ns", source.probes.front().time_ns},
      {"hosts", per_host},
      {"ports_sample", std::vector<uint16_t>(ports.begin(),
                                             std::next(ports.begin(),
                                                       static_cast<long>(std::min<size_t>(
                                                           ports.size(), 32))))},
  };

  Alert alert;
  alert.time_ns = now;
  alert.src_addr = src.address;
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
    if (!source.probes.empty() || now_ns - source.alerted_ns < window_ns()) break;
    sources_.erase(*it);
    it = lru_.erase(it);
  }
}

}  // namespace netguard::detect
