// Traffic baseline: per-protocol packet and byte rates per bucket against an EWMA mean and
// variance learned from the sampled packets; the traffic_anomaly rule.
#ifndef NETGUARD_AGENT_DETECT_RULES_BASELINE_H_
#define NETGUARD_AGENT_DETECT_RULES_BASELINE_H_

#include <cstdint>
#include <map>
#include <optional>

#include "detect/rules/rule_spec.h"

namespace netguard::detect::rules {

/// A bucket that stood out from its protocol's baseline.
struct Anomaly {
  uint8_t proto = 0;
  int64_t bucket_start_ns = 0;
  double packets = 0, bytes = 0;             // in the bucket
  double mean_packets = 0, std_packets = 0;  // the baseline before it
  double mean_bytes = 0, std_bytes = 0;
};

/// EWMA baselines per IP protocol, one bucket of `rule.window` at a time. Settings (params):
/// alpha (weight of the newest bucket), sigma (how many standard deviations above the mean
/// is anomalous), warmup_buckets (buckets learned before judging), learn_after_buckets (M:
/// after M anomalous buckets in a row the new level is the baseline); `threshold` is the least
/// packets a bucket needs to be judged at all.
class Baselines {
 public:
  /// Adds `packets`/`bytes` of protocol `proto` at `now_ns`. When this closes a bucket that
  /// stood out, returns it. An anomalous bucket does not enter the baseline, unless it is the
  /// M-th of a run: the baseline then becomes the run's mean and variance (a lasting level
  /// shift is learned, and the next buckets at that level are normal).
  std::optional<Anomaly> Add(const RuleSpec& rule, uint8_t proto, int64_t now_ns, double packets,
                             double bytes);

 private:
  // Sums over consecutive anomalous buckets.
  struct Run {
    uint32_t buckets = 0;
    double packets = 0, packets_sq = 0, bytes = 0, bytes_sq = 0;
    void Extend(double bucket_packets, double bucket_bytes) {
      ++buckets;
      packets += bucket_packets;
      packets_sq += bucket_packets * bucket_packets;
      bytes += bucket_bytes;
      bytes_sq += bucket_bytes * bucket_bytes;
    }
  };
  struct Protocol {
    int64_t bucket_start_ns = 0;
    double packets = 0, bytes = 0;
    double mean_packets = 0, var_packets = 0, mean_bytes = 0, var_bytes = 0;
    uint32_t buckets = 0;  // learned so far
    Run run;               // the anomalous buckets just before this one
  };
  std::map<uint8_t, Protocol> protocols_;  // at most 256 entries
};

}  // namespace netguard::detect::rules

#endif  // NETGUARD_AGENT_DETECT_RULES_BASELINE_H_
