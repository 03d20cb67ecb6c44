// Traffic baselines: per-protocol packet and byte rates per bucket against an EWMA mean and
// variance learned from the sampled packets (the traffic_anomaly rule), and per-destination
// distinct-source counts per window (volumetric_ddos).
#ifndef NETGUARD_AGENT_DETECT_RULES_BASELINE_H_
#define NETGUARD_AGENT_DETECT_RULES_BASELINE_H_

#include <algorithm>
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

/// The settings of a per-destination baseline (volumetric_ddos), read once per spec.
struct SurgeSettings {
  double alpha = 0.1;        // weight of the newest window
  double sigma = 4;          // standard deviations above the mean that make a surge
  double min_ratio = 2;      // ... and at least this multiple of the mean
  uint32_t warmup = 30;      // windows learned before the baseline judges (warmup_windows)
  uint32_t learn_after = 6;  // surges in a row that become the baseline (learn_after_windows)
  double threshold = 0;      // the fixed conditions a surge must also meet
  double min_bytes = 0;
  double cap = 0;  // the cap on the distinct count (the window's max_seen)
  static SurgeSettings Of(const RuleSpec& rule, double cap);
};

/// What judged a destination's window.
enum class SurgeBasis : uint8_t {
  kWarmup,   // too few windows learned: the fixed thresholds alone
  kSources,  // the distinct sources against their baseline
  kBytes,    // the bytes against theirs: the sources' baseline is too near the cap to show a surge
};

/// The EWMA baseline of one destination's distinct sources and bytes per window, kept in its
/// window (bounded with it by the rule's LRU). Time is cut into periods of one window from the
/// destination's first event; a period's value is the peak of the rolling measure within it.
/// A closed period enters the baseline unless it met the fixed conditions and was a surge,
/// except the learn_after-th surge in a row: the baseline then becomes that run's mean and
/// variance (a lasting rise is the new level). Periods without events enter as zeros.
struct SourceBaseline {
  int64_t period_start_ns = 0;
  double peak_sources = 0, peak_bytes = 0;  // in the current period
  double mean_sources = 0, var_sources = 0, mean_bytes = 0, var_bytes = 0;
  uint32_t windows = 0;  // learned so far
  struct Run {           // the surges in a row just before this period
    uint32_t windows = 0;
    double sources = 0, sources_sq = 0, bytes = 0, bytes_sq = 0;
  } run;

  /// Records the rolling measure at `now_ns`, first closing the period it ends, if any.
  void Observe(const SurgeSettings& s, int64_t now_ns, int64_t window_ns, double sources,
               double bytes) {
    if (period_start_ns == 0) period_start_ns = now_ns;
    if (now_ns >= period_start_ns + window_ns) Close(s, now_ns, window_ns);
    peak_sources = std::max(peak_sources, sources);
    peak_bytes = std::max(peak_bytes, bytes);
  }
  /// What judges a window now: warmup, its sources or (sources' baseline too near the cap to
  /// show a surge) its bytes.
  SurgeBasis Basis(const SurgeSettings& s) const;
  /// Whether `sources`/`bytes` (meeting the fixed conditions) are a surge over the baseline;
  /// before warmup every window is one (the fixed thresholds decide).
  bool Surge(const SurgeSettings& s, double sources, double bytes) const;

 private:
  void Close(const SurgeSettings& s, int64_t now_ns, int64_t window_ns);
};

}  // namespace netguard::detect::rules

#endif  // NETGUARD_AGENT_DETECT_RULES_BASELINE_H_
