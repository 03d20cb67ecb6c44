// What a rule is: the parsed form of one entry of the rules file (built-in or custom).
#ifndef NETGUARD_AGENT_DETECT_RULES_RULE_SPEC_H_
#define NETGUARD_AGENT_DETECT_RULES_RULE_SPEC_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/alert.h"

namespace netguard::detect::rules {

/// When a rule looks at traffic. kFlowOpen (built-in slow_http only): every flow still open at
/// each sweep, and every finished flow, so a rule sees long-lived connections while they last.
enum class Trigger : uint8_t { kFlowStart, kFlowEnd, kPacket, kFlowOpen };

/// What a rule's windows are kept per.
enum class KeyBy : uint8_t {
  kSource,             // the flow's initiator (the packet's sender)
  kDestination,        // the responder (the packet's receiver)
  kSourcePort,         // (source, destination port)
  kSourceDestination,  // (source, destination, destination port)
  kSourceDomain,       // (source, parent DNS domain)
  kArpAddress,         // the IPv4 address an ARP packet claims
  kArpMac,             // the MAC address that sent an ARP packet
};

/// What a rule's threshold is compared with, over its window.
enum class Measure : uint8_t {
  kEvents,               // matching events (a sampled packet counts as the packets it stands for)
  kPackets,              // packets of matching flows / samples
  kBytes,                // bytes of matching flows / samples
  kDistinctTargets,      // distinct (destination, destination port)
  kDistinctHosts,        // distinct destinations
  kDistinctPorts,        // distinct destination ports
  kDistinctSources,      // distinct sources
  kDistinctConnections,  // distinct (source, source port): connections, seen once or at every sweep
  kDistinctSubdomains,   // distinct names under one parent domain (DNS)
  kDistinctDomains,      // distinct parent domains (DNS)
  kHistory,              // event times, for periodicity (beaconing)
};

/// A custom rule's condition: a tree of tests on the event.
struct Condition {
  enum class Op : uint8_t {
    kAll,        // every child
    kAny,        // at least one child
    kNot,        // not the only child
    kProto,      // value == protocol number
    kSrcPort,    // source port in ports
    kDstPort,    // destination port in ports
    kFlagsSet,   // all of flags set
    kFlagsUnset  // none of flags set
    ,
    kCompare  // field cmp value
  };
  enum class Field : uint8_t { kSize, kPayload, kPackets, kBytes, kDurationMs };
  enum class Cmp : uint8_t { kLt, kLe, kGt, kGe, kEq, kNe };
  Op op = Op::kAll;
  std::vector<Condition> children;
  std::vector<uint16_t> ports;
  uint8_t flags = 0;
  Field field = Field::kSize;
  Cmp cmp = Cmp::kEq;
  double value = 0;
  std::string text;  // as written, for ListRules
};

/// One rule. Built-in rules take their defaults from DefaultRules() and may be overridden by the
/// rules file; custom rules are written whole there.
struct RuleSpec {
  std::string name;  // unique, e.g. "syn_flood"
  std::string kind;  // "scan", "flood", "bruteforce", "dns", "arp", "beaconing", "custom"
  std::string description;
  bool enabled = true;
  uint32_t threshold = 1;
  std::chrono::seconds window{60};
  /// Severity scaling: `severity` at the threshold, high at threshold * high_factor, critical
  /// at threshold * critical_factor.
  Severity severity = Severity::kWarning;
  double high_factor = 4;
  double critical_factor = 16;
  std::string alert_class;
  std::string technique;  // MITRE ATT&CK
  Trigger trigger = Trigger::kFlowStart;
  KeyBy key = KeyBy::kSource;
  Measure measure = Measure::kEvents;
  std::vector<uint16_t> ports;  // rule-specific port list (auth, reflection, web)
  // kind-specific settings, documented in docs/rules.md; looked up by string_view (no copy)
  std::map<std::string, double, std::less<>> params;
  Condition match;  // custom rules only
  int line = 0;     // line in the rules file, 0 = built-in default
};

/// The rules in force and where they came from.
struct RuleSet {
  std::vector<RuleSpec> rules;
  std::string source;  // the rules file, empty = built-in defaults only
};

}  // namespace netguard::detect::rules

#endif  // NETGUARD_AGENT_DETECT_RULES_RULE_SPEC_H_
