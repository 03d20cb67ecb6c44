// Offline analysis (netguardd --read): a capture file through pcap-file, the user-space flow
// table, feature extraction and the detectors, then exit. Needs no eBPF data plane.
#ifndef NETGUARD_AGENT_APP_OFFLINE_H_
#define NETGUARD_AGENT_APP_OFFLINE_H_

#include <cstdint>
#include <string>

#include "detect/rules/engine.h"
#include "detect/rules/rules_file.h"
#include "features/features.h"

namespace netguard::app {

struct OfflineOptions {
  std::string input;  // pcap or pcapng file
  features::FeatureMode mode = features::FeatureMode::kCic2017;
  std::string flows_csv;    // CICFlowMeter-style flows CSV; empty = not written
  std::string alerts_json;  // alerts as JSON lines; empty = not written
  bool rules = true;        // run the rules engine
  detect::rules::RuleSet rule_set = detect::rules::DefaultRuleSet();
  detect::rules::EngineOptions engine;
  std::string model;            // model bundle directory; empty = no ML detection
  bool model_anomalies = true;  // K-Means anomaly alerts
};

/// What a run did.
struct OfflineSummary {
  uint64_t packets = 0;    // packets read from the capture
  uint64_t flows = 0;      // flows ended (all of them, written or not)
  uint64_t flow_rows = 0;  // rows written to the flows CSV (flows with enough packets)
  uint64_t alerts = 0;
  bool ok = true;     // false: the capture is truncated or corrupt (see error)
  std::string error;  // names the packet index and byte offset where reading stopped
};

/// Runs the pipeline over options.input. Every flow read before a corrupt record is still
/// flushed, featurised and written. Throws std::runtime_error when the input cannot be opened
/// (missing, not Ethernet), an output cannot be written or the model bundle is refused
/// (detect::ml::BundleError).
OfflineSummary RunOffline(const OfflineOptions& options);

}  // namespace netguard::app

#endif  // NETGUARD_AGENT_APP_OFFLINE_H_
