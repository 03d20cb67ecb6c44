#include "kmeans.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>

namespace netguard::ngtrain {
namespace {

double Signed(double x) {
  return std::isnan(x) ? std::numeric_limits<double>::quiet_NaN()
                       : detect::ml::SignedLog1p(static_cast<float>(x));
}

// The scaled rows (n x d), NaN at 0 (the mean).
std::vector<double> Scale(const detect::ml::KMeansModel& m, std::span<const float> rows, size_t n,
                          size_t d) {
  std::vector<double> z(n * d);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < d; ++j) {
      const double v = Signed(rows[i * d + j]);
      z[i * d + j] = std::isnan(v) ? 0.0 : (v - m.mean[j]) / m.scale[j];
    }
  }
  return z;
}

double Squared(const double* a, const double* b, size_t d) {
  double s = 0;
  for (size_t j = 0; j < d; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

}  // namespace

detect::ml::KMeansModel FitKMeans(std::span<const float> rows, size_t n, size_t d, size_t k,
                                  uint64_t seed, int iterations) {
  if (n == 0) throw std::invalid_argument("K-Means needs at least one benign row");
  detect::ml::KMeansModel m;
  m.mean.assign(d, 0);
  m.scale.assign(d, 1);
  for (size_t j = 0; j < d; ++j) {
    double sum = 0, sq = 0;
    size_t count = 0;
    for (size_t i = 0; i < n; ++i) {
      const double v = Signed(rows[i * d + j]);
      if (std::isnan(v)) continue;
      sum += v;
      sq += v * v;
      ++count;
    }
    if (count == 0) continue;
    m.mean[j] = sum / static_cast<double>(count);
    const double var = sq / static_cast<double>(count) - m.mean[j] * m.mean[j];
    m.scale[j] = var > 1e-12 ? std::sqrt(var) : 1.0;  // constant features stay unscaled
  }
  const std::vector<double> z = Scale(m, rows, n, d);
  k = std::min(k, n);
  std::mt19937_64 rng(seed);
  // k-means++: each next centroid drawn with probability proportional to D(x)^2
  std::vector<size_t> chosen = {std::uniform_int_distribution<size_t>(0, n - 1)(rng)};
  std::vector<double> nearest(n, std::numeric_limits<double>::infinity());
  while (chosen.size() < k) {
    double total = 0;
    for (size_t i = 0; i < n; ++i) {
      nearest[i] = std::min(nearest[i], Squared(&z[i * d], &z[chosen.back() * d], d));
      total += nearest[i];
    }
    if (total <= 0) break;  // fewer distinct points than k
    double target = std::uniform_real_distribution<double>(0, total)(rng);
    size_t pick = n - 1;
    for (size_t i = 0; i < n; ++i) {
      target -= nearest[i];
      if (target <= 0) {
        pick = i;
        break;
      }
    }
    chosen.push_back(pick);
  }
  k = chosen.size();
  std::vector<double> c(k * d);
  for (size_t a = 0; a < k; ++a) std::copy_n(&z[chosen[a] * d], d, &c[a * d]);
  std::vector<size_t> assign(n, 0);
  for (int it = 0; it < iterations; ++it) {
    bool changed = it == 0;
    for (size_t i = 0; i < n; ++i) {
      size_t best = 0;
      double best_d = std::numeric_limits<double>::infinity();
      for (size_t a = 0; a < k; ++a) {
        const double s = Squared(&z[i * d], &c[a * d], d);
        if (s < best_d) {
          best_d = s;
          best = a;
        }
      }
      if (assign[i] != best) changed = true;
      assign[i] = best;
    }
    if (!changed) break;
    std::vector<double> sum(k * d, 0);
    std::vector<size_t> count(k, 0);
    for (size_t i = 0; i < n; ++i) {
      ++count[assign[i]];
      for (size_t j = 0; j < d; ++j) sum[assign[i] * d + j] += z[i * d + j];
    }
    for (size_t a = 0; a < k; ++a) {
      if (count[a] == 0) continue;  // an empty cluster keeps its centroid
      for (size_t j = 0; j < d; ++j) c[a * d + j] = sum[a * d + j] / static_cast<double>(count[a]);
    }
  }
  m.k = k;
  m.centroids = std::move(c);
  return m;
}

double KMeansDistance(const detect::ml::KMeansModel& m, const float* row, size_t d) {
  const std::vector<double> z = Scale(m, std::span<const float>(row, d), 1, d);
  double best = std::numeric_limits<double>::infinity();
  for (size_t a = 0; a < m.k; ++a) best = std::min(best, Squared(z.data(), &m.centroids[a * d], d));
  return std::sqrt(best);
}

void SetThreshold(detect::ml::KMeansModel& m, std::span<const float> rows, size_t n, size_t d,
                  double percentile) {
  std::vector<double> dist(n);
  for (size_t i = 0; i < n; ++i) dist[i] = KMeansDistance(m, &rows[i * d], d);
  std::sort(dist.begin(), dist.end());
  m.percentile = percentile;
  const double rank = percentile / 100.0 * static_cast<double>(n - 1);
  const size_t lo = static_cast<size_t>(rank);
  const size_t hi = std::min(lo + 1, n - 1);
  const double q = dist[lo] + (dist[hi] - dist[lo]) * (rank - static_cast<double>(lo));
  m.threshold = std::max(q, 1e-6);
}

}  // namespace netguard::ngtrain
