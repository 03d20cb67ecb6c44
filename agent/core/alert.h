// Alert: what a detector concluded about traffic, with its evidence.
#ifndef NETGUARD_AGENT_CORE_ALERT_H_
#define NETGUARD_AGENT_CORE_ALERT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace netguard {

enum class Severity : uint8_t { kInfo = 0, kWarning = 1, kHigh = 2, kCritical = 3 };
std::string_view ToString(Severity severity);
/// Parses "info", "warning", "high", "critical"; nullopt otherwise.
std::optional<Severity> ParseSeverity(std::string_view text);

/// An analyst's verdict on an alert.
enum class Feedback : uint8_t { kNone = 0, kTruePositive = 1, kFalsePositive = 2 };
std::string_view ToString(Feedback feedback);
std::optional<Feedback> ParseFeedback(std::string_view text);

struct Alert {
  int64_t id = 0;       // store id, assigned when committed; increasing
  int64_t time_ns = 0;  // wall clock, ns since the epoch
  std::string src_addr;
  uint16_t src_port = 0;
  std::string dst_addr;  // may be empty for alerts about a source only
  uint16_t dst_port = 0;
  uint8_t protocol = 0;     // IPPROTO_*, 0 when not one protocol
  std::string alert_class;  // e.g. "PortScan"
  double score = 0;         // detector confidence or rate, 0..1 for ML
  Severity severity = Severity::kWarning;
  std::string mitre_technique;     // e.g. "T1046"
  std::string detector;            // e.g. "rule.port_scan"
  std::string evidence_json;       // JSON object: rule counters or top features
  bool degraded_coverage = false;  // produced while the data plane was losing events
  // The source is one sender seen by a detection keyed by its destination (a flood, a
  // distributed scan, ML denial of service): often spoofed, so it is no evidence against that
  // address. Reputation and auto-block leave such alerts alone. Not stored: the evidence says
  // "source": "sampled" for readers.
  bool source_sampled = false;
  bool acknowledged = false;
  Feedback feedback = Feedback::kNone;
};

}  // namespace netguard

#endif  // NETGUARD_AGENT_CORE_ALERT_H_
