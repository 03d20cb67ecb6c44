// K-Means on benign flows (k-means++ seeding, Lloyd iterations), in the scaled space the agent's
// Classifier::Distance uses, and the distance threshold at a percentile.
#ifndef NETGUARD_MODELS_NGTRAIN_KMEANS_H_
#define NETGUARD_MODELS_NGTRAIN_KMEANS_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "detect/ml/bundle.h"

namespace netguard::ngtrain {

/// Fits the scaling (mean and standard deviation of sign(x) * log1p(|x|), NaN as the mean) and
/// `k` centroids (fewer when there are fewer rows) on `rows` (n x d, row-major) with a
/// deterministic k-means++ start from `seed` and at most `iterations` Lloyd steps. The threshold
/// is left 0: see SetThreshold.
detect::ml::KMeansModel FitKMeans(std::span<const float> rows, size_t n, size_t d, size_t k,
                                  uint64_t seed, int iterations = 50);

/// Distance of one row to its nearest centroid of `model` (as the agent computes it).
double KMeansDistance(const detect::ml::KMeansModel& model, const float* row, size_t d);

/// Sets model.threshold to the `percentile` (0..100) of the distances of `rows` (n x d).
void SetThreshold(detect::ml::KMeansModel& model, std::span<const float> rows, size_t n, size_t d,
                  double percentile);

}  // namespace netguard::ngtrain

#endif  // NETGUARD_MODELS_NGTRAIN_KMEANS_H_
