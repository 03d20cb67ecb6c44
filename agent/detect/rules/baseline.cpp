#include "detect/rules/baseline.h"

#include <algorithm>
#include <cmath>

#include "detect/rules/builtin.h"

namespace netguard::detect::rules {
namespace {

void Learn(double x, double alpha, double& mean, double& var, uint32_t n) {
  if (n == 0) {
    mean = x;
    var = 0;
    return;
  }
  const double diff = x - mean;
  mean += alpha * diff;
  var = (1 - alpha) * (var + alpha * diff * diff);
}

// Above the mean by sigma standard deviations (at least 1, so a flat baseline still needs a
// margin) and by min_ratio times.
bool Above(const SurgeSettings& s, double x, double mean, double var) {
  return x > mean + s.sigma * std::max(std::sqrt(var), 1.0) && x >= s.min_ratio * mean;
}

}  // namespace

std::optional<Anomaly> Baselines::Add(const RuleSpec& rule, uint8_t proto, int64_t now_ns,
                                      double packets, double bytes) {
  const int64_t bucket_ns = std::chrono::nanoseconds(rule.window).count();
  Protocol& p = protocols_[proto];
  std::optional<Anomaly> out;
  if (p.bucket_start_ns == 0) p.bucket_start_ns = now_ns;
  if (now_ns >= p.bucket_start_ns + bucket_ns) {
    // The settings matter only when a bucket closes: no lookups on the per-sample path.
    const double alpha = Param(rule, "alpha", 0.1);
    const double sigma = Param(rule, "sigma", 4);
    const auto warmup = static_cast<uint32_t>(Param(rule, "warmup_buckets", 30));
    const double std_p = std::sqrt(p.var_packets), std_b = std::sqrt(p.var_bytes);
    const bool judged = p.buckets >= warmup && p.packets >= rule.threshold;
    if (judged && (p.packets > p.mean_packets + sigma * std::max(std_p, 1.0) ||
                   p.bytes > p.mean_bytes + sigma * std::max(std_b, 1.0))) {
      out = Anomaly{proto, p.bucket_start_ns, p.packets, p.bytes, p.mean_packets,
                    std_p, p.mean_bytes,      std_b};
      p.run.Extend(p.packets, p.bytes);
      const auto learn_after = static_cast<uint32_t>(Param(rule, "learn_after_buckets", 6));
      if (learn_after > 0 && p.run.buckets >= learn_after) {
        // A level that lasted learn_after buckets is the new normal.
        const double n = p.run.buckets;
        p.mean_packets = p.run.packets / n;
        p.var_packets = std::max(0.0, p.run.packets_sq / n - p.mean_packets * p.mean_packets);
        p.mean_bytes = p.run.bytes / n;
        p.var_bytes = std::max(0.0, p.run.bytes_sq / n - p.mean_bytes * p.mean_bytes);
        p.run = {};
      }
    } else {
      Learn(p.packets, alpha, p.mean_packets, p.var_packets, p.buckets);
      Learn(p.bytes, alpha, p.mean_bytes, p.var_bytes, p.buckets);
      ++p.buckets;
      p.run = {};
    }
    // Buckets with no sample at all are quiet buckets: they enter the baseline as zeros.
    const int64_t gaps = std::min<int64_t>((now_ns - p.bucket_start_ns) / bucket_ns - 1, 100);
    if (gaps > 0) p.run = {};
    for (int64_t i = 0; i < gaps; ++i) {
      Learn(0, alpha, p.mean_packets, p.var_packets, p.buckets);
      Learn(0, alpha, p.mean_bytes, p.var_bytes, p.buckets);
      ++p.buckets;
    }
    p.bucket_start_ns += ((now_ns - p.bucket_start_ns) / bucket_ns) * bucket_ns;
    p.packets = p.bytes = 0;
  }
  p.packets += packets;
  p.bytes += bytes;
  return out;
}

SurgeSettings SurgeSettings::Of(const RuleSpec& rule, double cap) {
  SurgeSettings s;
  s.alpha = Param(rule, "alpha", s.alpha);
  s.sigma = Param(rule, "sigma", s.sigma);
  s.min_ratio = Param(rule, "min_ratio", s.min_ratio);
  s.warmup = static_cast<uint32_t>(Param(rule, "warmup_windows", s.warmup));
  s.learn_after = static_cast<uint32_t>(Param(rule, "learn_after_windows", s.learn_after));
  s.threshold = rule.threshold;
  s.min_bytes = Param(rule, "min_bytes", 0);
  s.cap = cap;
  return s;
}

SurgeBasis SourceBaseline::Basis(const SurgeSettings& s) const {
  if (windows < s.warmup) return SurgeBasis::kWarmup;
  // The distinct count stops at the cap: when even the cap would not stand out, only the
  // bytes can show a surge.
  return Above(s, s.cap, mean_sources, var_sources) ? SurgeBasis::kSources : SurgeBasis::kBytes;
}

bool SourceBaseline::Surge(const SurgeSettings& s, double sources, double bytes) const {
  switch (Basis(s)) {
    case SurgeBasis::kWarmup:
      return true;
    case SurgeBasis::kSources:
      return Above(s, sources, mean_sources, var_sources);
    case SurgeBasis::kBytes:
      return Above(s, bytes, mean_bytes, var_bytes);
  }
  return true;
}

void SourceBaseline::Close(const SurgeSettings& s, int64_t now_ns, int64_t window_ns) {
  const bool fixed = peak_sources >= s.threshold && peak_bytes >= s.min_bytes;
  if (fixed && windows >= s.warmup && Surge(s, peak_sources, peak_bytes)) {
    ++run.windows;
    run.sources += peak_sources;
    run.sources_sq += peak_sources * peak_sources;
    run.bytes += peak_bytes;
    run.bytes_sq += peak_bytes * peak_bytes;
    if (s.learn_after > 0 && run.windows >= s.learn_after) {
      // A level that lasted learn_after windows is the new normal.
      const double n = run.windows;
      mean_sources = run.sources / n;
      var_sources = std::max(0.0, run.sources_sq / n - mean_sources * mean_sources);
      mean_bytes = run.bytes / n;
      var_bytes = std::max(0.0, run.bytes_sq / n - mean_bytes * mean_bytes);
      run = {};
    }
  } else {
    Learn(peak_sources, s.alpha, mean_sources, var_sources, windows);
    Learn(peak_bytes, s.alpha, mean_bytes, var_bytes, windows);
    ++windows;
    run = {};
  }
  // Periods with no event at all were quiet: they enter the baseline as zeros.
  const int64_t periods = (now_ns - period_start_ns) / window_ns;
  const int64_t gaps = std::min<int64_t>(periods - 1, 100);
  if (gaps > 0) run = {};
  for (int64_t i = 0; i < gaps; ++i) {
    Learn(0, s.alpha, mean_sources, var_sources, windows);
    Learn(0, s.alpha, mean_bytes, var_bytes, windows);
    ++windows;
  }
  period_start_ns += periods * window_ns;
  peak_sources = peak_bytes = 0;
}

}  // namespace netguard::detect::rules
